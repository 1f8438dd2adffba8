"""Every recommender the trainer can fit, behind one contract (base.Recommender)."""
