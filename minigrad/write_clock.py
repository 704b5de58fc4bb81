"""The in-place write clock: how many in-place writes any tensor has had so far.

A leaf module (it imports nothing of minigrad). ``Tensor._bump_version`` advances it; a
recorded node keeps the value it had when the node was made; the backward engine compares the
two. When they are equal, nothing at all was written in place since the node was recorded, so
the per-tensor version checks of what the node saved can be skipped (the common case: a
forward pass followed by its backward). Shared by all threads: a write in any thread makes
every later check run, which is the safe direction.
"""

writes = [0]  # a list so that importers share one mutable cell: ``writes[0] += 1``
