"""``minigrad.utils``: the ``torch.utils`` namespace, so ``from torch.utils.data import
DataLoader`` ports as ``from minigrad.utils.data import DataLoader``.

``minigrad.utils.data`` *is* :mod:`minigrad.data` (the same module object, registered under
both names), not a copy.
"""

import sys

from .. import data

sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
