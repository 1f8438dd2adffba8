"""The quality protocol: metrics, evaluation of any model, simulations on validation data."""
