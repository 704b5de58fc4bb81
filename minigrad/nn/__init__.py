"""minigrad.nn (being written)."""
