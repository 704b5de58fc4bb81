"""torch's Tensor API surface: the silent traps first (max(dim), size(), Tensor(), .data), then
the added names, each against NumPy or a closed form, with gradchecks of the differentiable
ones (float64, random upstream gradients inside gradcheck)."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck, gradgradcheck
from tests.conftest import to_numpy


def t64(a, device="cpu", requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=np.float64), dtype=mg.float64, device=device,
                     requires_grad=requires_grad)


# ----------------------------------------------------------------------------- max / min


@pytest.mark.parametrize("how", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_over_dim_is_a_named_values_indices_pair(how, dim, keepdim, device, rng):
    a = rng.standard_normal((4, 5))
    x = t64(a, device)
    for pair in (getattr(mg, how)(x, dim, keepdim), getattr(x, how)(dim, keepdim=keepdim),
                 getattr(mg, how)(x, dim=dim, keepdim=keepdim)):
        values, indices = pair
        assert type(pair).__name__ == how and pair.values is values and pair.indices is indices
        np.testing.assert_array_equal(to_numpy(values),
                                      getattr(a, how)(axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(to_numpy(indices),
                                      getattr(a, "arg" + how)(axis=dim, keepdims=keepdim))
        assert indices.dtype == np.int64 and not indices.requires_grad
        assert to_numpy(pair[1]).tolist() == to_numpy(indices).tolist()  # max(x, 1)[1]
    assert gradcheck(lambda t: getattr(t, how)(dim, keepdim).values, [x])
    assert gradgradcheck(lambda t: getattr(t, how)(dim, keepdim).values ** 2, [x])


def test_max_over_dim_gives_the_first_index_and_its_gradient_on_ties():
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    values, indices = x.max(1)
    assert indices.tolist() == [1, 0]  # the first maximal element, as torch documents
    values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]  # all of it to the selected element


def test_max_full_reduction_and_elementwise_forms(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x, y = t64(a), t64(b)
    assert mg.max(x).item() == a.max() and x.min().item() == a.min()
    np.testing.assert_array_equal(to_numpy(mg.max(x, y)), np.maximum(a, b))
    np.testing.assert_array_equal(to_numpy(mg.min(x, y)), np.minimum(a, b))
    np.testing.assert_array_equal(to_numpy(x.max(y)), np.maximum(a, b))
    assert gradcheck(lambda s, t: mg.max(s, t), [x, y])
    # NumPy's keywords keep NumPy's meaning (values only); amax takes several dims
    np.testing.assert_array_equal(to_numpy(x.max(axis=1)), a.max(axis=1))
    np.testing.assert_array_equal(to_numpy(x.amax((0, 1))), a.max())
    np.testing.assert_array_equal(to_numpy(mg.amin(x, 0)), a.min(0))


def test_max_out_and_errors():
    x = mg.tensor([[1.0, 5.0], [7.0, 2.0]])
    v, i = mg.empty(2), mg.zeros(2, dtype=mg.int64)
    res = mg.max(x, 1, out=(v, i))
    assert res.values is v and v.tolist() == [5.0, 7.0] and i.tolist() == [1, 0]
    with pytest.raises(IndexError, match="out of range"):
        x.max(2)
    with pytest.raises(IndexError, match="size 0"):
        mg.zeros(2, 0).max(1)


# ----------------------------------------------------------------------------- size / numel


def test_size_is_a_method_returning_a_tuple_subclass():
    x = mg.zeros(2, 3, 4)
    s = x.size()
    assert isinstance(s, tuple) and isinstance(s, mg.Size) and s == (2, 3, 4)
    assert s.numel() == 24 and x.numel() == 24 and mg.numel(x) == 24
    assert x.size(0) == 2 and x.size(-1) == 4 and x.size(1) == x.shape[1]
    assert repr(s) == "minigrad.Size([2, 3, 4])"
    assert mg.zeros(()).size() == () and mg.zeros(()).numel() == 1
    with pytest.raises(IndexError, match="out of range"):
        x.size(3)
    with pytest.raises(TypeError, match="int"):
        x.size(1.0)


# ----------------------------------------------------------------------------- constructors


def test_tensor_constructor_is_float_while_tensor_function_keeps_ints():
    assert mg.Tensor([1, 2, 3]).dtype == np.float32
    assert mg.Tensor([1, 2, 3]).tolist() == [1.0, 2.0, 3.0]
    assert mg.Tensor(np.array([True, False])).dtype == np.float32
    assert mg.tensor([1, 2, 3]).dtype == np.int64
    assert mg.Tensor([1, 2], dtype=mg.int64).dtype == np.int64
    assert mg.Tensor(2, 3).shape == (2, 3) and mg.Tensor(2, 3).dtype == np.float32
    assert mg.Tensor(5).shape == (5,)  # sizes, as torch.Tensor(5)
    assert mg.Tensor().shape == (0,)
    assert mg.Tensor((2, 3)).tolist() == [2.0, 3.0]  # one sequence is data
    with pytest.raises(TypeError, match="sizes"):
        mg.Tensor(2, -1)
    mg.set_default_dtype(mg.float64)
    try:
        assert mg.Tensor([1, 2]).dtype == np.float64 and mg.tensor([1.0]).dtype == np.float64
    finally:
        mg.set_default_dtype(mg.float32)


def test_parameter_keeps_the_dtype_of_the_tensor_it_wraps():
    assert mg.nn.Parameter(mg.zeros(3, dtype=mg.float64)).dtype == np.float64
    assert mg.nn.Parameter(mg.Tensor(4, 2)).shape == (4, 2)


# ----------------------------------------------------------------------------- .data


@pytest.mark.parametrize("idiom,expected", [
    (lambda d: d.fill_(2.5), lambda a: np.full_like(a, 2.5)),
    (lambda d: d.zero_(), np.zeros_like),
    (lambda d: d.mul_(3.0), lambda a: a * 3),
    (lambda d: d.add_(1.0), lambda a: a + 1),
    (lambda d: d.add_(mg.ones(2, 3), alpha=2.0), lambda a: a + 2),
    (lambda d: d.sub_(0.5), lambda a: a - 0.5),
    (lambda d: d.div_(4.0), lambda a: a / 4),
    (lambda d: d.clamp_(-0.1, 0.2), lambda a: np.clip(a, -0.1, 0.2)),
    (lambda d: d.copy_(mg.full((2, 3), 7.0)), lambda a: np.full_like(a, 7.0)),
])
def test_inplace_idioms_on_data_change_the_tensor_and_are_not_recorded(idiom, expected, rng):
    a = rng.standard_normal((2, 3)).astype(np.float32)
    p = mg.nn.Parameter(mg.tensor(a))
    y = (p * 2).sum()  # a graph recorded before: .data writes are invisible to its checks
    idiom(p.data)
    np.testing.assert_allclose(to_numpy(p), expected(a), rtol=1e-6)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad
    y.backward()
    np.testing.assert_array_equal(to_numpy(p.grad), np.full((2, 3), 2.0))


def test_random_fills_on_data_draw_from_the_seeded_generator():
    p = mg.nn.Parameter(mg.zeros(1000, 50))
    p.data.normal_(1.0, 0.5)
    v = to_numpy(p)
    assert abs(v.mean() - 1.0) < 0.005 and abs(v.std() - 0.5) < 0.005
    p.data.uniform_(-2.0, 3.0)
    v = to_numpy(p)
    assert v.min() >= -2.0 and v.max() < 3.0 and abs(v.mean() - 0.5) < 0.02
    mg.manual_seed(7)
    first = to_numpy(mg.zeros(5).data.normal_()).copy()
    mg.manual_seed(7)
    np.testing.assert_array_equal(to_numpy(mg.zeros(5).data.normal_()), first)


def test_data_numpy_and_storage_replacement():
    p = mg.nn.Parameter(mg.tensor([1.0, 2.0]))
    arr = p.data.numpy()  # no detach needed: .data is outside the graph
    arr[0] = 10.0  # shares memory on the CPU, as torch
    assert p.tolist() == [10.0, 2.0]
    p.data = mg.tensor([[3.0], [4.0]])  # another shape is allowed, as torch
    assert p.shape == (2, 1) and p.requires_grad and p.is_leaf
    with pytest.raises(TypeError, match="requires grad"):
        p.data = mg.tensor([1, 2])  # integer data under a tensor that requires grad
    with pytest.raises(TypeError, match="Tensor"):
        p.data = np.zeros(2)
    assert p.shape == (2, 1)  # unchanged by the refused assignments
    x = mg.tensor([1, 2])  # no grad required: integer data may replace integer data
    x.data = mg.tensor([5, 6, 7])
    assert x.tolist() == [5, 6, 7]


# ----------------------------------------------------------------------------- elementwise


UNARY = {
    "sin": (np.sin, (-3, 3)), "cos": (np.cos, (-3, 3)), "tan": (np.tan, (-1.2, 1.2)),
    "asin": (np.arcsin, (-0.9, 0.9)), "acos": (np.arccos, (-0.9, 0.9)),
    "atan": (np.arctan, (-3, 3)), "sinh": (np.sinh, (-2, 2)), "cosh": (np.cosh, (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_trigonometric_functions(name, device, rng):
    np_fn, (lo, hi) = UNARY[name]
    a = rng.uniform(lo, hi, (3, 4))
    x = t64(a, device)
    for out in (getattr(mg, name)(x), getattr(x, name)()):
        np.testing.assert_allclose(to_numpy(out), np_fn(a), rtol=1e-12, atol=1e-14)
    assert gradcheck(getattr(mg, name), [x])
    assert gradgradcheck(getattr(mg, name), [x])
    np.testing.assert_array_equal(to_numpy(x), a)  # input unchanged
    assert getattr(mg, name)(mg.tensor([0, 1])).dtype == np.float32  # ints -> float32


@pytest.mark.parametrize("name,np_fn", [("floor", np.floor), ("ceil", np.ceil),
                                         ("round", np.round), ("sign", np.sign)])
def test_piecewise_constant_functions_have_zero_gradient(name, np_fn, rng):
    a = rng.uniform(-3, 3, (4, 5))
    a[0, :3] = [0.5, 1.5, -2.5]  # halves round to even, as torch
    x = t64(a)
    out = getattr(mg, name)(x)
    np.testing.assert_array_equal(to_numpy(out), np_fn(a))
    np.testing.assert_array_equal(to_numpy(getattr(x, name)()), np_fn(a))
    out.sum().backward()  # in the graph, as torch: a zero gradient, not an error
    np.testing.assert_array_equal(to_numpy(x.grad), np.zeros_like(a))
    ints = mg.tensor([-2, 3])
    assert getattr(mg, name)(ints).tolist() == np_fn(np.array([-2, 3])).tolist()


def test_round_decimals():
    x = mg.tensor([1.2345, -2.5551], dtype=mg.float64)
    np.testing.assert_array_equal(to_numpy(mg.round(x, decimals=2)), [1.23, -2.56])
    np.testing.assert_array_equal(to_numpy(x.round(1)), [1.2, -2.6])


def test_pow_forms(rng):
    a = rng.uniform(0.5, 2, (3, 2))
    b = rng.uniform(-1, 1, (3, 2))
    x, y = t64(a), t64(b)
    np.testing.assert_allclose(to_numpy(mg.pow(x, 3)), a ** 3, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.pow(y)), a ** b, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(mg.pow(2.0, x)), 2.0 ** a, rtol=1e-12)
    assert gradcheck(lambda s, t: mg.pow(s, t), [x, y])
    assert gradcheck(lambda s: s.pow(2.5), [x])


def test_arithmetic_functions_methods_alpha_and_rounding_mode(rng):
    a, b = rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 3))
    x, y = t64(a), t64(b)
    cases = [
        (mg.add(x, y, alpha=2), a + 2 * b), (x.add(y), a + b), (mg.sub(x, y, alpha=0.5),
                                                               a - 0.5 * b),
        (x.sub(y), a - b), (mg.mul(x, y), a * b), (x.mul(3), a * 3), (mg.div(x, y), a / b),
        (x.div(y), a / b), (mg.div(x, y, rounding_mode="floor"), np.floor(a / b)),
        (x.div(y, rounding_mode="trunc"), np.trunc(a / b)), (mg.true_divide(x, y), a / b),
    ]
    for got, want in cases:
        np.testing.assert_allclose(to_numpy(got), want, rtol=1e-12)
    assert gradcheck(lambda s, t: mg.add(s, t, alpha=-1.5), [x, y])
    assert gradcheck(lambda s, t: mg.sub(s, t, alpha=3.0), [x, y])
    assert gradcheck(lambda s, t: mg.div(s, t), [x, y])
    i, j = mg.tensor([7, -7]), mg.tensor([2, 2])
    assert mg.div(i, j, rounding_mode="floor").tolist() == [3, -4]
    assert mg.div(i, j, rounding_mode="trunc").tolist() == [3, -3]
    assert mg.div(i, j).tolist() == [3.5, -3.5]
    with pytest.raises(ValueError, match="rounding_mode"):
        mg.div(x, y, rounding_mode="ceil")


def test_out_keyword(rng):
    a, b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    x, y = t64(a, requires_grad=False), t64(b, requires_grad=False)
    out = mg.empty(2, 2, dtype=mg.float64)
    assert mg.add(x, y, out=out) is out
    np.testing.assert_allclose(to_numpy(out), a + b)
    mg.matmul(x, y, out=out)
    np.testing.assert_allclose(to_numpy(out), a @ b)
    mg.sin(x, out=out)
    np.testing.assert_allclose(to_numpy(out), np.sin(a))
    small = mg.empty(0, dtype=mg.float64)
    mg.mul(x, y, out=small)  # resized to the result, as torch
    np.testing.assert_allclose(to_numpy(small), a * b)
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        mg.add(t64(a), y, out=out)
    with pytest.raises(RuntimeError, match="can't be cast"):
        mg.add(x, y, out=mg.zeros(2, 2, dtype=mg.int64))


def test_keyword_forms(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    x, y = t64(a), t64(b)
    np.testing.assert_allclose(to_numpy(mg.matmul(input=x, other=y)), a @ b, rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(mg.argmax(x, dim=1)), a.argmax(1))
    np.testing.assert_array_equal(to_numpy(x.argmax(axis=0)), a.argmax(0))
    np.testing.assert_array_equal(to_numpy(mg.argmin(x, axis=1, keepdim=True)),
                                  a.argmin(1)[:, None])
    assert mg.argmax(x).item() == a.argmax()
    with pytest.raises(TypeError, match="not both"):
        mg.argmax(x, dim=0, axis=0)


# ----------------------------------------------------------------------------- linear algebra


def test_mm_bmm_t_clone(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    c, d = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 3, 2))
    x, y, u, v = t64(a), t64(b), t64(c), t64(d)
    np.testing.assert_allclose(to_numpy(mg.mm(x, y)), a @ b, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.mm(y)), a @ b, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(mg.bmm(u, v)), c @ d, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(u.bmm(v)), c @ d, rtol=1e-12)
    np.testing.assert_array_equal(to_numpy(x.t()), a.T)
    np.testing.assert_array_equal(to_numpy(mg.t(mg.tensor([1.0, 2.0]))), [1.0, 2.0])
    assert gradcheck(mg.mm, [x, y]) and gradcheck(mg.bmm, [u, v])
    assert gradcheck(lambda s: s.t(), [x])
    k = x.clone()
    np.testing.assert_array_equal(to_numpy(k), a)
    assert k.array is not x.array and not np.shares_memory(k.array, x.array)
    assert gradcheck(mg.clone, [x]) and gradgradcheck(lambda s: s.clone() ** 2, [x])
    with pytest.raises(RuntimeError, match="2-D"):
        mg.mm(u, v)
    with pytest.raises(RuntimeError, match="3-D"):
        mg.bmm(x, y)
    with pytest.raises(RuntimeError, match="<= 2"):
        u.t()


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij,kl->l", [(2, 3), (4, 2)]),  # indices summed away in a single operand
    ("...ij,jk->...ik", [(2, 5, 2, 3), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
])
def test_einsum_against_numpy_with_gradients(equation, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    xs = [t64(a) for a in arrays]
    np.testing.assert_allclose(to_numpy(mg.einsum(equation, *xs)), np.einsum(equation, *arrays),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_numpy(mg.einsum(equation, xs)), np.einsum(equation, *arrays),
                               rtol=1e-12, atol=1e-12)  # operands as one list, as torch
    assert gradcheck(lambda *t: mg.einsum(equation, *t), xs)
    assert gradgradcheck(lambda *t: mg.einsum(equation, *t), xs)


def test_einsum_errors():
    x = t64(np.ones((2, 2)))
    with pytest.raises(ValueError, match="operand"):
        mg.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError, match="does not fit"):
        mg.einsum("ijk->i", x)
    with pytest.raises(NotImplementedError, match="repeated index"):
        mg.einsum("ii->i", x)
    np.testing.assert_array_equal(to_numpy(mg.einsum("ii->i", x.detach())), [1.0, 1.0])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing, rng):
    a, b, c = rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(2)
    grids = mg.meshgrid(t64(a), t64(b), t64(c), indexing=indexing)
    for g, want in zip(grids, np.meshgrid(a, b, c, indexing=indexing)):
        np.testing.assert_array_equal(to_numpy(g), want)
    assert gradcheck(lambda s, t: sum(g.sin().sum() for g in mg.meshgrid(s, t, indexing=indexing)),
                     [t64(a), t64(b)])
    with pytest.warns(UserWarning, match="indexing"):
        x, y = mg.meshgrid(mg.arange(3), mg.arange(2))  # torch's default: 'ij', with a warning
    assert x.shape == (3, 2)


# ----------------------------------------------------------------------------- dtypes


def test_type_conversions():
    x = mg.tensor([1.7, -2.2])
    assert x.type() == "minigrad.FloatTensor" and x.double().type() == "minigrad.DoubleTensor"
    assert x.type(mg.float64).dtype == np.float64
    assert x.type("torch.LongTensor").tolist() == [1, -2]
    assert x.long().dtype == np.int64 and x.int().dtype == np.int32
    assert x.bool().tolist() == [True, True] and x.float().dtype == np.float32
    assert x.double().dtype == np.float64 and x.type_as(mg.zeros(1, dtype=mg.int64)).dtype \
        == np.int64
    assert mg.is_floating_point(x) and not mg.tensor([1]).is_floating_point()
    assert mg.float == mg.float32 and mg.double == mg.float64 and mg.long == mg.int64
    assert mg.tensor([1, 0], dtype=mg.bool).dtype == np.bool_
    with pytest.raises(ValueError, match="unknown tensor type"):
        x.type("torch.QuantumTensor")
    y = mg.tensor([1.0, 2.0], requires_grad=True)
    assert y.double().requires_grad  # a differentiable cast, as torch


def test_small_methods():
    x = mg.arange(6.0).reshape(2, 3)
    assert x.view_as(mg.zeros(3, 2)).shape == (3, 2) and x.contiguous() is x
    assert mg.tensor([1.0]).expand_as(x).shape == (2, 3)
    z = x.new_zeros(2, 2)
    assert z.dtype == x.dtype and z.tolist() == [[0, 0], [0, 0]]
    assert x.new_ones((3,)).tolist() == [1, 1, 1] and x.new_full((1,), 4.0).tolist() == [4.0]
    assert x.new_tensor([1, 2]).dtype == np.float32
    assert bool(mg.all(x >= 0)) and not bool(x.all()) and bool(x.any())
    assert x.all(dim=1).tolist() == [False, True]
    assert mg.equal(x, x.clone()) and not mg.equal(x, x[:1])
    assert mg.allclose(x, x * (1 + 1e-6)) and not x.allclose(x + 1e-3)
    assert mg.isclose(x, x + 1e-3, atol=1e-2).all()
    assert mg.is_tensor(x) and not mg.is_tensor(x.tolist())
    assert mg.tensor([1.0], requires_grad=True).tolist() == [1.0]


# ----------------------------------------------------------------------------- random


def test_normal_forms_and_statistics():
    z = mg.normal(2.0, 3.0, size=(200_000,))
    assert z.dtype == np.float32 and z.shape == (200_000,)
    v = to_numpy(z).astype(np.float64)
    # sampling sd of the mean: 3 / sqrt(2e5) ~ 0.0067; of the sd: 3 / sqrt(4e5) ~ 0.0047
    assert abs(v.mean() - 2.0) < 0.04 and abs(v.std() - 3.0) < 0.03
    mean = mg.tensor([0.0, 100.0], dtype=mg.float64)
    std = mg.tensor([1e-3, 0.0], dtype=mg.float64)
    w = mg.normal(mean, std)
    assert w.dtype == np.float64 and abs(w[0].item()) < 0.01 and w[1].item() == 100.0
    assert mg.normal(mean, 0.0).tolist() == [0.0, 100.0]
    assert mg.normal(5.0, mg.zeros(3)).tolist() == [5.0, 5.0, 5.0]
    mg.manual_seed(11)
    first = mg.normal(0.0, 1.0, (4,)).tolist()
    mg.manual_seed(11)
    assert mg.normal(0.0, 1.0, (4,)).tolist() == first
    with pytest.raises(RuntimeError, match="std"):
        mg.normal(0.0, -1.0, (2,))
    with pytest.raises(TypeError, match="size"):
        mg.normal(0.0, 1.0)


# ----------------------------------------------------------------------------- namespaces


def test_cuda_namespace_and_device_objects():
    assert mg.cuda.is_available() == mg.cuda_is_available()
    assert mg.cuda.device_count() == (0 if not mg.cuda.is_available() else
                                      mg.cuda.device_count())
    mg.cuda.manual_seed(3)
    a = mg.randn(3).tolist()
    mg.manual_seed(3)
    assert mg.randn(3).tolist() == a
    d = mg.device("cpu")
    assert d == "cpu" and d.type == "cpu" and str(mg.device("cuda", 1)) == "cuda:1"
    assert mg.device("cuda:0").index == 0
    assert mg.zeros(2, device=mg.device("cpu")).device == d
    dev = mg.device("cuda" if mg.cuda.is_available() else "cpu")
    assert mg.ones(2).to(dev).device == dev
    with pytest.raises(ValueError, match="index"):
        mg.device("cuda:0", 1)


def test_variable_is_a_tensor_sharing_storage():
    from minigrad.autograd import Variable

    x = mg.tensor([1.0, 2.0])
    v = Variable(x, requires_grad=True)
    assert isinstance(v, mg.Tensor) and isinstance(x, Variable) and v.requires_grad
    (v * v).sum().backward()
    assert v.grad.tolist() == [2.0, 4.0]
    with mg.no_grad():
        v.add_(1.0)
    assert x.tolist() == [2.0, 3.0]  # same storage
    with pytest.raises(TypeError, match="tensor"):
        Variable([1.0])


def test_utils_data_is_the_data_module():
    import minigrad.utils.data as ud
    from minigrad.utils.data import DataLoader, TensorDataset

    assert ud is mg.data and DataLoader is mg.data.DataLoader
    assert TensorDataset is mg.data.TensorDataset


# ----------------------------------------------------------------------------- more of torch


def test_comparison_functions_and_methods(rng):
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    a[2] = b[2]
    x, y = t64(a, requires_grad=False), t64(b, requires_grad=False)
    for name, np_fn in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                        ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]:
        np.testing.assert_array_equal(to_numpy(getattr(mg, name)(x, y)), np_fn(a, b))
        np.testing.assert_array_equal(to_numpy(getattr(x, name)(y)), np_fn(a, b))
    assert x.gt(0).dtype == np.bool_


@pytest.mark.parametrize("name,np_fn,lo", [
    ("square", np.square, -2), ("neg", np.negative, -2), ("reciprocal", np.reciprocal, 0.5),
    ("rsqrt", lambda a: 1 / np.sqrt(a), 0.5), ("log1p", np.log1p, -0.5), ("expm1", np.expm1, -2),
])
def test_more_unary_functions(name, np_fn, lo, rng):
    a = rng.uniform(lo, 2, (3, 4))
    x = t64(a)
    np.testing.assert_allclose(to_numpy(getattr(mg, name)(x)), np_fn(a), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(getattr(x, name)()), np_fn(a), rtol=1e-12)
    assert gradcheck(getattr(mg, name), [x]) and gradgradcheck(getattr(mg, name), [x])
    tiny = mg.tensor([1e-10], dtype=mg.float64)
    assert mg.log1p(tiny).item() == np.log1p(1e-10) and mg.expm1(tiny).item() == np.expm1(1e-10)


def test_cumsum_norm_remainder_floor_divide_addmm(rng):
    a, b = rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 4))
    x, y = t64(a), t64(b)
    np.testing.assert_allclose(to_numpy(mg.cumsum(x, 1)), np.cumsum(a, 1), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.cumsum(dim=0)), np.cumsum(a, 0), rtol=1e-12)
    assert gradcheck(lambda t: mg.cumsum(t, 1), [x]) and gradgradcheck(lambda t: t.cumsum(0),
                                                                        [x])
    np.testing.assert_allclose(mg.norm(x).item(), np.linalg.norm(a), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.norm(dim=1)), np.linalg.norm(a, axis=1), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.norm(p=1, dim=0)), np.abs(a).sum(0), rtol=1e-12)
    assert gradcheck(lambda t: t.norm(dim=1, keepdim=True), [x])
    z = mg.zeros(3, requires_grad=True)
    z.norm().backward()
    assert z.grad.tolist() == [0.0, 0.0, 0.0]  # torch's subgradient at 0, not NaN
    np.testing.assert_allclose(to_numpy(x % 0.7), np.mod(a, 0.7), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(to_numpy(mg.remainder(x, y)), np.mod(a, b), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_array_equal(to_numpy(x // 0.5), np.floor_divide(a, 0.5))
    assert (mg.tensor([7, -7]) // 2).tolist() == [3, -4] and (mg.tensor([7, -7]) % 3).tolist() \
        == [1, 2]
    assert gradcheck(lambda s, t: mg.remainder(s, t), [x, y])
    m1, m2 = t64(rng.standard_normal((3, 2))), t64(rng.standard_normal((2, 4)))
    want = 0.5 * a + 2 * to_numpy(m1) @ to_numpy(m2)
    np.testing.assert_allclose(to_numpy(mg.addmm(x, m1, m2, beta=0.5, alpha=2)), want,
                               rtol=1e-12)
    assert gradcheck(lambda s, p, q: mg.addmm(s, p, q, beta=0.5, alpha=2), [x, m1, m2])


def test_indexing_family(rng):
    a = rng.standard_normal((4, 5))
    x = t64(a)
    idx = np.array([3, 0, 3])
    np.testing.assert_array_equal(to_numpy(x.index_select(0, mg.tensor(idx))), a[idx])
    np.testing.assert_array_equal(to_numpy(mg.index_select(x, 1, mg.tensor(idx))), a[:, idx])
    g = rng.integers(0, 5, (4, 2))
    np.testing.assert_array_equal(to_numpy(mg.gather(x, 1, mg.tensor(g))),
                                  np.take_along_axis(a, g, 1))
    g0 = rng.integers(0, 4, (2, 5))
    np.testing.assert_array_equal(to_numpy(x.gather(0, mg.tensor(g0))),
                                  np.take_along_axis(a, g0, 0))
    assert gradcheck(lambda t: mg.gather(t, 1, mg.tensor(g)), [x])  # repeated picks add up
    assert gradcheck(lambda t: t.index_select(0, mg.tensor(idx)), [x])
    mask = mg.tensor(a > 0)
    np.testing.assert_array_equal(to_numpy(x.masked_fill(mask, -1.0)), np.where(a > 0, -1, a))
    assert gradcheck(lambda t: t.masked_fill(mask, 0.0), [x])
    y = mg.tensor(a)
    y.masked_fill_(mask, 0.0)
    np.testing.assert_allclose(to_numpy(y), np.where(a > 0, 0, a).astype(np.float32))


def test_sort_and_topk(rng):
    a = rng.standard_normal((3, 6))
    x = t64(a)
    values, indices = mg.sort(x, dim=1)
    np.testing.assert_array_equal(to_numpy(values), np.sort(a, 1))
    np.testing.assert_array_equal(to_numpy(indices), np.argsort(a, 1))
    values, indices = x.sort(0, descending=True)
    np.testing.assert_array_equal(to_numpy(values), -np.sort(-a, 0))
    top = mg.topk(x, 2)
    assert type(top).__name__ == "topk"
    np.testing.assert_array_equal(to_numpy(top.values), -np.sort(-a, 1)[:, :2])
    np.testing.assert_array_equal(to_numpy(top.indices), np.argsort(-a, 1)[:, :2])
    low = x.topk(2, dim=0, largest=False)
    np.testing.assert_array_equal(to_numpy(low.values), np.sort(a, 0)[:2])
    assert gradcheck(lambda t: mg.sort(t, 1).values * mg.arange(6.0, dtype=mg.float64), [x])
    assert gradcheck(lambda t: t.topk(3).values, [x])
    with pytest.raises(RuntimeError, match="k"):
        x.topk(7)


def test_split_chunk_unbind_repeat(rng):
    a = rng.standard_normal((5, 4))
    x = t64(a)
    for got, want in zip(mg.split(x, 2), np.split(a, [2, 4])):
        np.testing.assert_array_equal(to_numpy(got), want)
    for got, want in zip(x.split([1, 3], dim=1), np.split(a, [1], axis=1)):
        np.testing.assert_array_equal(to_numpy(got), want)
    assert [c.shape for c in x.chunk(2)] == [(3, 4), (2, 4)]
    assert [c.shape for c in mg.chunk(x, 3, dim=1)] == [(5, 2), (5, 2)]
    assert len(x.unbind(1)) == 4 and to_numpy(mg.unbind(x)[2]).tolist() == a[2].tolist()
    np.testing.assert_array_equal(to_numpy(x.repeat(2, 3)), np.tile(a, (2, 3)))
    np.testing.assert_array_equal(to_numpy(x.repeat(2, 1, 1)), np.tile(a, (2, 1, 1)))
    assert gradcheck(lambda t: t.repeat(2, 3), [x])
    assert gradcheck(lambda t: sum((c * (i + 1)).sum() for i, c in enumerate(t.split(2))), [x])
    with pytest.raises(ValueError, match="add up"):
        x.split([1, 1])
    with pytest.raises(RuntimeError, match="repeat"):
        x.repeat(2)


def test_triangles_and_diagonals(rng):
    a = rng.standard_normal((4, 4))
    x = t64(a)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(to_numpy(mg.triu(x, k)), np.triu(a, k))
        np.testing.assert_array_equal(to_numpy(x.tril(k)), np.tril(a, k))
        np.testing.assert_array_equal(to_numpy(mg.diag(x, k)), np.diag(a, k))
        v = t64(a[0, : 4 - abs(k)])
        np.testing.assert_array_equal(to_numpy(mg.diag(v, k)), np.diag(a[0, : 4 - abs(k)], k))
        assert gradcheck(lambda t, k=k: mg.diag(t, k), [v])
        assert gradcheck(lambda t, k=k: mg.diag(t, k), [x])
    assert gradcheck(lambda t: mg.triu(t, 1), [x])


def test_legacy_constructors_and_small_names():
    assert mg.FloatTensor([1, 2]).dtype == np.float32
    assert mg.LongTensor([1, 2]).dtype == np.int64 and mg.LongTensor(3).shape == (3,)
    assert mg.DoubleTensor(2, 2).dtype == np.float64
    assert mg.empty_like(mg.ones(2, 3, dtype=mg.float64)).dtype == np.float64
    assert not mg.ones(1).is_cuda
    with mg.inference_mode():
        assert not (mg.ones(1, requires_grad=True) * 2).requires_grad


def test_sizes_feed_back_into_shape_arguments():
    x = mg.randn(4, 3, 2)
    assert x.view(x.size(0), -1).shape == (4, 6)
    assert x.reshape(x.size()).shape == (4, 3, 2) and mg.zeros(x.size()).shape == (4, 3, 2)
    assert mg.ones(*x.size()[1:]).shape == (3, 2)
    assert mg.Tensor(mg.tensor([1, 2])).dtype == np.float32  # torch.Tensor(t) is floating


@pytest.mark.parametrize("name,np_fn,args", [
    ("exp_", np.exp, ()), ("log_", np.log, ()), ("sqrt_", np.sqrt, ()), ("abs_", np.abs, ()),
    ("neg_", np.negative, ()), ("pow_", lambda a: a ** 3, (3,)), ("tanh_", np.tanh, ()),
    ("sigmoid_", lambda a: 1 / (1 + np.exp(-a)), ()), ("relu_", lambda a: np.maximum(a, 0), ()),
    ("floor_", np.floor, ()), ("ceil_", np.ceil, ()), ("round_", np.round, ()),
    ("sign_", np.sign, ()),
])
def test_inplace_math_methods(name, np_fn, args, rng):
    a = rng.uniform(0.1, 3, (2, 3)) * np.array([1, -1, 1])
    if name in ("log_", "sqrt_"):
        a = np.abs(a)
    x = t64(a, requires_grad=False)
    storage = x.array
    assert getattr(x, name)(*args) is x and x.array is storage  # in place, same storage
    np.testing.assert_allclose(to_numpy(x), np_fn(a), rtol=1e-12)
    p = t64(a)
    with pytest.raises(RuntimeError, match="no_grad"):
        getattr(p, name)(*args)
    getattr(p.data, name)(*args)  # through .data: allowed, not recorded
    np.testing.assert_allclose(to_numpy(p), np_fn(a), rtol=1e-12)


def test_inplace_math_refuses_a_result_its_dtype_cannot_hold():
    with pytest.raises(RuntimeError, match="can't be cast"):
        mg.tensor([1, 4]).sqrt_()
