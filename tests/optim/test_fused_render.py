"""The kernel-body language of minigrad/optim/fused.py: its C++ rendering and its NumPy form."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.optim.fused import BodyError, FusedKernel

from .fused_c import COMPILER, c_source, run_c


def test_rendering_keeps_python_order_and_declares_temporaries():
    k = FusedKernel("k", "g = grad + wd * theta\n"
                         "m = m * beta1 + 0.1 * g\n"
                         "theta -= lr * m / (sqrt(m) + 1e-08)\n"
                         "m = where(m > 0, -m, maximum(m, g))\n",
                    dict(theta="param", grad="grad", m="exp_avg"))
    assert k.operation.splitlines() == [
        "const T mg_grad = grad;",  # each array read once into a local, each output stored once
        "T mg_theta = theta;",
        "T mg_m = m;",
        "T g = (mg_grad + (wd * mg_theta));",
        "mg_m = ((mg_m * beta1) + (((T)0.1) * g));",
        "mg_theta = (mg_theta - ((lr * mg_m) / (sqrt(mg_m) + ((T)1e-08))));",
        "mg_m = ((mg_m > ((T)0.0)) ? (-mg_m) : mg_maximum(mg_m, g));",
        "theta = mg_theta;",
        "m = mg_m;",
    ]
    assert k.inputs == ["grad"] and k.outputs == ["theta", "m"]
    assert k.scalars == ["wd", "beta1", "lr"]
    assert k.temporaries == ["g"]
    assert k.in_params == "T grad, T wd, T beta1, T lr"
    assert k.out_params == "T theta, T m"


@pytest.mark.parametrize("body, match", [
    ("grad = theta\n", "read only"),
    ("theta += 1\nx.y = 2\n", "can only assign a name"),
    ("theta = log(theta)\n", "unknown function"),
    ("theta = theta ** 2\n", "not in the kernel language"),
    ("theta = theta if lr else grad\n", "not in the kernel language"),
    ("theta = where(theta, grad, lr)\n", "must be one comparison"),
    ("theta = sqrt(theta, grad)\n", "takes 1 arguments"),
    ("theta = grad * lr\nlr = theta\n", "scalar argument"),
    ("theta = grad\ni = theta\n", "reserved"),
    ("theta = grad\ngamma = theta\n", "reserved"),
    ("theta = grad\nmg_x = theta\n", "reserved"),
    ("theta = grad\nfor x in y: pass\n", "only `name = expr`"),
    ("theta = grad +\n", "not Python"),
    ("theta = grad * float('inf')\n", "unknown function"),
])
def test_bodies_outside_the_language_are_refused(body, match):
    with pytest.raises(BodyError, match=match):
        FusedKernel("bad", body, dict(theta="param", grad="grad"))


def test_an_array_the_body_never_uses_is_refused():
    with pytest.raises(BodyError, match=r"\['m'\] are never used"):
        FusedKernel("bad", "theta -= lr * grad\n", dict(theta="param", grad="grad", m="exp_avg"))


def test_numpy_form_updates_in_place_in_the_arrays_dtype():
    k = FusedKernel("k", "c = 0.1 * grad\ntheta -= c * lr\nm = maximum(m, c)\n",
                    dict(theta="param", grad="grad", m="exp_avg"))
    theta, m = np.ones(4, np.float32), np.zeros(4, np.float32)
    grad = np.array([1, -2, 3, np.nan], np.float32)
    theta_id = id(theta)
    k.run_numpy(dict(theta=theta, grad=grad, m=m), dict(lr=1 / 3))
    lr32, c = np.float32(1 / 3), np.float32(0.1) * grad
    np.testing.assert_array_equal(theta, np.float32(1) - c * lr32)
    np.testing.assert_array_equal(m, np.maximum(np.float32(0), c))  # NaN propagates
    assert id(theta) == theta_id and theta.dtype == np.float32


@pytest.mark.skipif(COMPILER is None, reason="no C compiler (gcc or cc) on this machine")
def test_c_helpers_are_numpys_sign_maximum_minimum_clip():
    """The PREAMBLE's macros against NumPy, NaN and signed zeros included."""
    k = FusedKernel("helpers", "s = sign(x)\nhi = maximum(x, y)\nlo = minimum(x, y)\n"
                               "c = clip(x, y, 0.5)\n",
                    dict(x="param", y="grad", s="a", hi="b", lo="c", c="d"))
    values = np.array([-2.0, -0.0, 0.0, 0.25, 1.0, np.nan, 3.0, np.nan], np.float32)
    x, y = values, values[::-1].copy()
    out = {n: np.empty_like(x) for n in ("s", "hi", "lo", "c")}
    run_c(k, dict(x=x, y=y, **out), {})
    np.testing.assert_array_equal(out["s"], np.sign(x))
    np.testing.assert_array_equal(out["hi"], np.maximum(x, y))
    np.testing.assert_array_equal(out["lo"], np.minimum(x, y))
    np.testing.assert_array_equal(out["c"], np.clip(x, y, np.float32(0.5)))
    assert "mg_sign" in c_source(k, np.dtype(np.float32))
