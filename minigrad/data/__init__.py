"""minigrad.data (being written)."""
