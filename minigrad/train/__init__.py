"""minigrad.train (being written)."""
