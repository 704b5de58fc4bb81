"""Conv1d and Conv2d layers, as torch.nn (kernels in :mod:`minigrad.ops.conv`)."""

from __future__ import annotations

import numbers

from ..backend import DeviceLike
from ..tensor import Tensor
from . import functional as F
from .linear import _add_weight_and_bias, _reset_weight_and_bias
from .module import Module


class _ConvNd(Module):
    """A convolution over ``_nd`` spatial dims with torch's arguments and defaults.

    Default initialisation is torch's: ``kaiming_uniform_(weight, a=sqrt(5))``, which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * prod(kernel_size),
    and the bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    _nd = 0

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: DeviceLike = None, dtype=None) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        for what, v in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        for what, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if v % groups:
                raise ValueError(f"{name}: {what} ({v}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not supported "
                                      "(only 'zeros')")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = F._ntuple(kernel_size, nd, name, "kernel_size", 1)
        self.stride = F._ntuple(stride, nd, name, "stride", 1)
        self.dilation = F._ntuple(dilation, nd, name, "dilation", 1)
        # checked now, as torch does ("same" with a stride, negative or malformed padding)
        F._conv_padding(padding, self.kernel_size, self.dilation, self.stride, name)
        self.padding = padding if isinstance(padding, str) else F._ntuple(
            padding, nd, name, "padding", 0)
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        _add_weight_and_bias(self, shape, bias, dtype, device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's default: weight by kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fan_in))."""
        _reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}, {self.out_channels}) expected "
                f"{nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, got {input.ndim}-D "
                f"input of shape {tuple(input.shape)}"
            )
        conv = F.conv1d if nd == 1 else F.conv2d
        return conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                    self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0,) * self._nd, "valid"):
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) of (N, C_in, L) or (C_in, L) input.

    L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.
    ``padding``: an int, a 1-tuple, "valid" or "same" (stride 1). ``groups``: channels are
    split into groups convolved separately (``groups == in_channels``: depthwise).
    """

    _nd = 1


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) input.

    H_out = floor((H + 2 padding[0] - dilation[0] (kernel_size[0] - 1) - 1) / stride[0]) + 1,
    W_out likewise. ``padding``: an int, a pair, "valid" or "same" (stride 1; an odd total
    padding puts the extra row/column after, as torch). ``groups``: the channels are split
    into groups convolved separately (``groups == in_channels``: depthwise).

    Default initialisation (torch's): weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) by
    ``kaiming_uniform_(a=sqrt(5))``, bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
    in_channels / groups * kH * kW.
    """

    _nd = 2
