"""The op-writing API of autograd.Function: save_for_backward, in-place guards, double backward."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck, gradgradcheck
from minigrad.autograd.function import Function


class Cube(Function):
    """y = x^3;  dy/dx = 3 x^2 (saves its input)."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x * x

    def backward(self, grad, x):
        return (grad * 3 * x * x,)


class Recip(Function):
    """y = 1 / x;  dy/dx = -y^2 (saves its output)."""

    def forward(self, x):
        y = 1 / x
        self.save_for_backward(y)
        return y

    def backward(self, grad, y):
        return (-grad * y * y,)


class ScaleByMask(Function):
    """y = x * m for a constant mask kept as an attribute; dy/dx = m."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return (grad * self.mask,)


class SavesAnIntermediate(Function):
    """y = x^2, saving x^2 itself (neither an input nor the output array) for backward."""

    def forward(self, x):
        sq = x * x
        self.save_for_backward(sq)
        return sq + 0

    def backward(self, grad, sq):
        return (grad * 2 * np.sqrt(sq),)


def _x(values=(0.5, -1.5, 2.0)):
    return mg.tensor(np.array(values), dtype=mg.float64, requires_grad=True)


def test_saved_inputs_and_outputs_arrive_as_backward_arguments():
    assert gradcheck(lambda x: Cube.apply(x), [_x()])
    assert gradcheck(lambda x: Recip.apply(x), [_x()])
    x = _x()
    ScaleByMask.apply(x, mask=np.array([1.0, 0.0, 2.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 2.0])


def test_saved_values_become_tensors_under_create_graph():
    assert gradgradcheck(lambda x: Cube.apply(x), [_x()])
    assert gradgradcheck(lambda x: Recip.apply(x), [_x()])


def test_changing_a_saved_input_in_place_raises_naming_the_op():
    x = _x()
    z = x + 0
    y = Cube.apply(z).sum()
    with mg.no_grad():
        z.add_(1)
    with pytest.raises(RuntimeError, match="Cube.backward needs input 0"):
        y.backward()


def test_changing_a_saved_output_in_place_raises_naming_the_op():
    x = _x()
    r = Recip.apply(x)
    loss = (r + 1).sum()  # Add saves nothing: the error must come from Recip
    with mg.no_grad():
        r.mul_(2)
    with pytest.raises(RuntimeError, match="Recip.backward needs its output"):
        loss.backward()


def test_changing_what_was_not_saved_is_fine():
    x = _x()
    z = x + 0
    y = ScaleByMask.apply(z, mask=np.array([1.0, 2.0, 3.0])).sum()
    with mg.no_grad():
        z.add_(1)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_saving_an_intermediate_is_refused_under_create_graph():
    x = _x()
    y = SavesAnIntermediate.apply(x).sum()
    with pytest.raises(TypeError, match="neither one of its inputs nor its output"):
        mg.autograd.grad([y], [x], create_graph=True)
    x2 = _x()
    SavesAnIntermediate.apply(x2).sum().backward()  # ordinary backward is fine
    np.testing.assert_allclose(x2.grad.numpy(), 2 * np.abs([0.5, -1.5, 2.0]))


def test_a_zero_dim_output_saved_by_forward_is_the_output_tensor():
    class Total(Function):
        """y = sum(x) saved as a NumPy scalar; dy/dx = 1 (checks y was kept as the output)."""

        def forward(self, x):
            y = x.sum()  # a NumPy scalar, turned into a 0-d array by apply
            self.save_for_backward(y)
            return y

        def backward(self, grad, y):
            assert y.ndim == 0
            return (grad * (y * 0 + 1),)

    x = _x()
    out = Total.apply(x)
    with mg.no_grad():
        out.add_(1)
    with pytest.raises(RuntimeError, match="needs its output"):
        out.backward()
