"""The service's route modules, one per area of the API (thin: the work is in app.ranking)."""
