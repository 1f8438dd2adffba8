"""The recommendation service (python -m app): a FastAPI app serving a trained bundle."""
