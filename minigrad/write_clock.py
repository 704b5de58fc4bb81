"""The in-place write clock: how many in-place writes any tensor has had so far.

A leaf module (it imports nothing of minigrad). ``Tensor._bump_version`` advances it and
stamps the written tensor with the new value (``t._vc[1]``, beside its version ``t._vc[0]``;
views share both); a recorded node keeps the value the clock had when its forward ran
(``fn.writes``). The backward engine compares the node's value with the clock: when they are
equal, nothing at all was written in place since the node was recorded, so the checks of what
the node saved are skipped (the common case: a forward pass followed by its backward). When
they differ, a saved tensor was changed after the node read it exactly when its stamp is
later than the node's value (``Function.check_versions``): so a node needs to keep no
per-input versions. Shared by all threads: a write in any thread makes every later check run,
which is the safe direction.
"""

writes = [0]  # a list so that importers share one mutable cell: ``writes[0] += 1``
