"""Reading releases into datasets and indexing them for training (readers, interactions)."""
