"""Fused optimizer kernels for CuPy: one elementwise kernel per update of a flat group.

Why: the flat fast path (:mod:`.flat`) calls an algorithm's ``update`` once per parameter group,
on flat views of the whole group. On NumPy that is a handful of whole-buffer ufuncs; on CuPy
each of them is a kernel launch (about ten per Adam step), and on a small model the GPU waits
for the launches. torch answers with its ``fused`` optimizers; here each elementwise update rule
is ALSO written once as a *kernel body*, and CuPy runs it as one ``cupy.ElementwiseKernel`` over
the flat buffers: one launch per group and step, whatever the algorithm.

A kernel body is a few lines of restricted Python, the update rule of the algorithm's file in
the same order of operations::

    g = grad + weight_decay * theta
    m = m * beta1 + one_minus_beta1 * g
    v += (g * g - v) * one_minus_beta2
    theta -= m / (sqrt(v) * inv_sqrt_bias2 + eps) * step_size

Assignments (``=``, ``+=``, ``-=``, ``*=``, ``/=``) to a name, with ``+ - * /``, unary minus,
float literals, comparisons (only as the condition of ``where``) and the functions of
:data:`FUNCTIONS` (NumPy's names). The same body is

* rendered to the CUDA C++ operation of a ``cupy.ElementwiseKernel`` (:attr:`FusedKernel.
  operation`): every binary operation parenthesised as Python parsed it, literals cast to the
  kernel's type ``T``, a temporary declared ``T name`` at its first assignment, each array
  loaded once into a local and each updated one stored once; the kernel is
  compiled with ``--fmad=false`` so that ``a * b + c`` rounds twice as it does in NumPy;
* run on NumPy arrays (:meth:`FusedKernel.run_numpy`), a statement at a time with NumPy's ufuncs
  and the scalars as array-dtype numbers: the form the tests compare with each optimizer's own
  ``update``, and the tests also compile the C++ operation with the system compiler
  (tests/optim/test_fused_kernels.py), so the very string CuPy compiles is checked on the CPU.

The numbers a body reads that are not arrays are kernel arguments (learning rate, betas, bias
corrections, ...), computed on the host at every step exactly as ``update`` computes them
(in Python floats, then rounded once to the array's dtype, as NumPy does with a Python scalar):
a scheduler's new ``lr`` or a new step count changes an argument, never the kernel. A kernel is
built once per body and compiled by CuPy once per dtype and device (CuPy's cache); an option
that changes the rule (amsgrad, nesterov, centered, coupled or decoupled decay, ...) selects
another body.

Where it applies: :func:`fused_update` is called by the base class at the one call of
``update`` on a flat group (``Optimizer._flat_step``). It fuses CuPy float32/float64 groups whose
algorithm's ``update`` is one of those registered below (the class's own ``update``: a subclass
that overrides it is not fused), and returns False, so that the plain ``update`` runs, for
anything else: NumPy arrays, other dtypes, a state buffer that an option switched on after the
first step (None until ``update`` creates it), SGD's first momentum step (the buffer is created
as a copy of the gradient). ``ENABLED = False`` turns it off.

References:
    CuPy, "User-Defined Kernels" and ``cupy.ElementwiseKernel``
    (https://docs.cupy.dev/en/stable/user_guide/kernel.html).
    Chainer's ``chainer.optimizers.Adam`` (one ``ElementwiseKernel`` per update, the pattern).
"""

from __future__ import annotations

import ast
import functools
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ..backend import Array, get_array_module

__all__ = ["ENABLED", "FUNCTIONS", "PREAMBLE", "BodyError", "FusedKernel", "Launch", "kernel",
           "fused_update", "plan", "fused_algorithms"]

#: Turn the fused kernels off (the plain ``update`` then runs on CuPy too); also
#: ``MINIGRAD_FUSED_OPTIM=0`` in the environment.
ENABLED = os.environ.get("MINIGRAD_FUSED_OPTIM", "1") != "0"

# -------------------------------------------------------------------------- the body language

#: name -> (C++ name, NumPy function name, number of arguments). The C++ names of the NaN-aware
#: helpers are macros of :data:`PREAMBLE`; the others are the CUDA/C math functions, which have
#: float and double overloads in CUDA C++ (and in C through <tgmath.h>).
FUNCTIONS = {
    "sqrt": ("sqrt", "sqrt", 1),
    "abs": ("fabs", "abs", 1),
    "exp": ("exp", "exp", 1),
    "cos": ("cos", "cos", 1),
    "tan": ("tan", "tan", 1),
    "tanh": ("tanh", "tanh", 1),
    "arctan2": ("atan2", "arctan2", 2),
    "power": ("pow", "power", 2),
    "sign": ("mg_sign", "sign", 1),
    "maximum": ("mg_maximum", "maximum", 2),
    "minimum": ("mg_minimum", "minimum", 2),
    "clip": ("mg_clip", "clip", 3),
    "where": (None, "where", 3),  # rendered as ``(c ? a : b)``
}

#: Macros put at the top of every kernel's source: NumPy's ``sign`` (0 at 0, NaN at NaN),
#: ``maximum``/``minimum`` (NaN when either is NaN, where C's fmax/fmin drop it) and ``clip``.
#: ``T`` is the kernel's element type, defined where the macros are used.
PREAMBLE = """\
#define mg_sign(x) ((x) > (T)0 ? (T)1 : ((x) < (T)0 ? (T)-1 : (x)))
#define mg_maximum(a, b) (((a) != (a) || (a) > (b)) ? (a) : (b))
#define mg_minimum(a, b) (((a) != (a) || (a) < (b)) ? (a) : (b))
#define mg_clip(x, lo, hi) mg_minimum(mg_maximum(x, lo), hi)
"""

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_NUMPY_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
                 ast.Div: np.divide}
_NUMPY_COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
                  ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
# names a kernel variable must not take: C/C++ keywords and math functions that a variable
# would shadow, CuPy's own names in an ElementwiseKernel (``i``, ``_ind``, ``T``) and ours
_RESERVED = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register return short signed sizeof static struct switch typedef union
    unsigned void volatile while bool true false class new delete this template typename
    namespace using operator private public protected virtual i T sqrt fabs exp log cos sin
    tan tanh atan2 pow fmax fmin gamma j0 j1 jn y0 y1 yn erf remainder round trunc floor ceil
    """.split()) | {f[0] for f in FUNCTIONS.values() if f[0]} | set(FUNCTIONS)


class BodyError(ValueError):
    """A kernel body outside the language of :mod:`minigrad.optim.fused`."""


class FusedKernel:
    """One update rule as a body of restricted Python: run on NumPy or as a CuPy kernel.

    Args:
        name: the kernel's name (CUDA profiles show it).
        body: the statements (see the module docstring).
        arrays: the body's array names, each mapped to where its array lives: ``"param"``
            (the parameter), ``"grad"`` (the gradient, read only) or a key of the state.

    Attributes:
        inputs: the arrays the body reads and never assigns, in ``arrays``' order.
        outputs: the arrays it assigns (updated in place), in ``arrays``' order.
        scalars: every other free name the body reads (kernel arguments), in order of use.
        operation: the body as CUDA C++ statements.

    Raises:
        BodyError: a statement or expression outside the language, a name used before it is
            assigned, ``grad`` assigned, an array of ``arrays`` that the body never uses.
    """

    def __init__(self, name: str, body: str, arrays: dict[str, str]):
        self.name = name
        self.body = body
        self.arrays = dict(arrays)
        try:
            self.statements = ast.parse(body).body
        except SyntaxError as err:
            raise BodyError(f"kernel {name}: not Python: {err}") from None
        self.temporaries: list[str] = []
        self.scalars: list[str] = []
        self._seen: set[str] = set()  # every name the body uses
        assigned: set[str] = set()
        lines = [self._statement(s, assigned) for s in self.statements]
        unused = [a for a in self.arrays if a not in self._seen]
        if unused:
            raise BodyError(f"kernel {name}: arrays {unused} are never used")
        self.outputs = [a for a in self.arrays if a in assigned]
        self.inputs = [a for a in self.arrays if a not in assigned]
        # CuPy binds each array's element as a reference into global memory; the compiler
        # can't keep one in a register across a store through another (they might alias). So
        # each array is read once into a local (mg_<name>) and each output stored once.
        self.operation = "\n".join(
            [f"const T mg_{a} = {a};" for a in self.inputs]
            + [f"T mg_{a} = {a};" for a in self.outputs] + lines
            + [f"{a} = mg_{a};" for a in self.outputs])
        self._cupy = None

    # ---------------------------------------------------------------------- rendering to C
    def _statement(self, node: ast.stmt, assigned: set[str]) -> str:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], self._expr(node.value)
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINARY:
            target = node.target
            current = self._read(target.id, node) if isinstance(target, ast.Name) else "?"
            value = f"({current} {_BINARY[type(node.op)]} {self._expr(node.value)})"
        else:
            raise BodyError(f"kernel {self.name}: line {node.lineno}: only `name = expr` and "
                            f"`name op= expr` statements, got {ast.unparse(node)!r}")
        if not isinstance(target, ast.Name):
            raise BodyError(f"kernel {self.name}: line {node.lineno}: can only assign a name, "
                            f"got {ast.unparse(target)!r}")
        name = self._check_name(target.id, node)
        if self.arrays.get(name) == "grad":
            raise BodyError(f"kernel {self.name}: line {node.lineno}: the gradient {name!r} "
                            "is read only")
        if name in self.scalars:
            raise BodyError(f"kernel {self.name}: line {node.lineno}: {name!r} is a scalar "
                            "argument, read before this assignment")
        declare = name not in self.arrays and name not in assigned
        assigned.add(name)
        self._seen.add(name)
        if declare:
            self.temporaries.append(name)
            return f"T {name} = {value};"
        return f"{self._local(name)} = {value};"

    def _expr(self, node: ast.expr) -> str:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return f"({self._expr(node.left)} {_BINARY[type(node.op)]} {self._expr(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return f"(-{self._expr(node.operand)})"
        if isinstance(node, ast.Name):
            return self._read(node.id, node)
        if (isinstance(node, ast.Constant) and type(node.value) in (int, float)
                and math.isfinite(node.value)):
            return f"((T){float(node.value)!r})"
        if isinstance(node, ast.Call):
            return self._call(node)
        raise BodyError(f"kernel {self.name}: not in the kernel language: {ast.unparse(node)!r}")

    def _call(self, node: ast.Call) -> str:
        fn = node.func.id if isinstance(node.func, ast.Name) else None
        if fn not in FUNCTIONS or node.keywords:
            raise BodyError(f"kernel {self.name}: unknown function or keyword arguments in "
                            f"{ast.unparse(node)!r}; known: {sorted(FUNCTIONS)}")
        c_name, _, arity = FUNCTIONS[fn]
        if len(node.args) != arity:
            raise BodyError(f"kernel {self.name}: {fn} takes {arity} arguments, got "
                            f"{ast.unparse(node)!r}")
        if fn == "where":
            return f"({self._condition(node.args[0])} ? {self._expr(node.args[1])} : " \
                   f"{self._expr(node.args[2])})"
        return f"{c_name}({', '.join(self._expr(a) for a in node.args)})"

    def _condition(self, node: ast.expr) -> str:
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in _COMPARE):
            return (f"({self._expr(node.left)} {_COMPARE[type(node.ops[0])]} "
                    f"{self._expr(node.comparators[0])})")
        raise BodyError(f"kernel {self.name}: the condition of where() must be one comparison, "
                        f"got {ast.unparse(node)!r}")

    def _read(self, name: str, node: ast.AST) -> str:
        self._check_name(name, node)
        self._seen.add(name)
        if name not in self.arrays and name not in self.temporaries and name not in self.scalars:
            self.scalars.append(name)
        return self._local(name)

    def _local(self, name: str) -> str:
        """The C name of a body's name: ``mg_<name>`` for an array (see ``__init__``)."""
        return f"mg_{name}" if name in self.arrays else name

    def _check_name(self, name: str, node: ast.AST) -> str:
        if name in _RESERVED or name.startswith("_") or name.startswith("mg_"):
            raise BodyError(f"kernel {self.name}: line {node.lineno}: {name!r} is a reserved "
                            "name (a C/C++ keyword, a math function or a CuPy name)")
        return name

    # -------------------------------------------------------------------- the CuPy kernel
    @property
    def in_params(self) -> str:
        """CuPy's input parameter list: the read-only arrays, then the scalars, all ``T``."""
        return ", ".join(f"T {n}" for n in self.inputs + self.scalars)

    @property
    def out_params(self) -> str:
        """CuPy's output parameter list: the arrays updated in place."""
        return ", ".join(f"T {n}" for n in self.outputs)

    def cupy_kernel(self):
        """The ``cupy.ElementwiseKernel`` (built at the first call; CuPy compiles it at its first
        launch for each dtype and device and caches the binary). Kept with the module that
        built it, so that a test's stand-in for CuPy never serves the real one."""
        import cupy  # noqa: PLC0415  (only ever reached with CuPy arrays in hand)

        if self._cupy is None or self._cupy[0] is not cupy:
            self._cupy = (cupy, cupy.ElementwiseKernel(
                self.in_params, self.out_params, self.operation, self.name,
                preamble=PREAMBLE, options=("--fmad=false",), no_return=True))
        return self._cupy[1]

    def launch(self, arrays: dict[str, Array], scalars: dict[str, float]) -> None:
        """Run the kernel on CuPy arrays (the outputs are updated in place)."""
        self.cupy_kernel()(*[arrays[n] for n in self.inputs],
                           *[float(scalars[n]) for n in self.scalars],
                           *[arrays[n] for n in self.outputs])

    # ---------------------------------------------------------------------- the NumPy form
    def run_numpy(self, arrays: dict[str, Array], scalars: dict[str, float]) -> None:
        """Run the body with NumPy (or CuPy) ufuncs, one statement at a time; the outputs are
        updated in place. The scalars and literals are numbers of the arrays' dtype, as the
        kernel's ``T`` arguments are."""
        dtype = next(iter(arrays.values())).dtype.type
        env = {n: dtype(scalars[n]) for n in self.scalars}
        env.update(arrays)
        xp = get_array_module(next(iter(arrays.values())))
        for node in self.statements:
            target = node.target if isinstance(node, ast.AugAssign) else node.targets[0]
            value = self._eval(node.value, env, xp, dtype)
            if isinstance(node, ast.AugAssign):
                value = _NUMPY_BINARY[type(node.op)](env[target.id], value)
            if target.id in self.outputs:
                env[target.id][...] = value
            else:
                env[target.id] = value

    def _eval(self, node: ast.expr, env: dict, xp: Any, dtype: type) -> Any:
        if isinstance(node, ast.BinOp):
            return _NUMPY_BINARY[type(node.op)](self._eval(node.left, env, xp, dtype),
                                                self._eval(node.right, env, xp, dtype))
        if isinstance(node, ast.UnaryOp):
            return np.negative(self._eval(node.operand, env, xp, dtype))
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.Constant):
            return dtype(node.value)
        if isinstance(node, ast.Compare):
            return _NUMPY_COMPARE[type(node.ops[0])](self._eval(node.left, env, xp, dtype),
                                                     self._eval(node.comparators[0], env, xp,
                                                                dtype))
        fn = getattr(xp, FUNCTIONS[node.func.id][1])
        return fn(*[self._eval(a, env, xp, dtype) for a in node.args])

    def __repr__(self) -> str:
        return f"FusedKernel({self.name!r}: {self.in_params} -> {self.out_params})"


@functools.cache
def _kernel(name: str, body: str, arrays: tuple[tuple[str, str], ...]) -> FusedKernel:
    return FusedKernel(name, body, dict(arrays))


def kernel(name: str, body: str, **arrays: str) -> FusedKernel:
    """The :class:`FusedKernel` of this body, built once (cached by name, body and arrays)."""
    return _kernel(name, body, tuple(arrays.items()))


# ---------------------------------------------------------------------- the hook and its plans

class Launch:
    """One fused update: the kernel, its scalar arguments (a superset is fine) and the numbers
    of the state that ``update`` would have set (NAdam's ``mu_product``), set after the launch.
    """

    __slots__ = ("kernel", "scalars", "numbers")

    def __init__(self, kernel: FusedKernel, scalars: dict[str, float],
                 numbers: dict[str, Any] | None = None):
        self.kernel = kernel
        self.scalars = scalars
        self.numbers = numbers or {}


#: Tests only: ``runner(kernel, arrays, scalars)`` that runs a kernel on NumPy arrays (its
#: NumPy form or the compiled C), so that the CPU exercises the whole fused path. None: NumPy
#: arrays never take the fused path.
HOST_RUNNER: Callable[[FusedKernel, dict, dict], None] | None = None

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_PLANNERS: dict[str, Callable[[dict, dict], Launch | None]] = {}  # "module.Class.update" -> plan
_PLANNER_OF_TYPE: dict[type, Callable | None] = {}


def fused_update(optimizer: Any, p: Any, grad: Array, state: dict, group: dict) -> bool:
    """Do ``optimizer.update(p, grad, state, group)`` as one fused kernel, if it can be.

    Called by ``Optimizer._flat_step`` (``p``, ``grad`` and the state's arrays are flat
    buffers of a whole group) and ``Optimizer._tensor_step`` (one parameter stepped per
    tensor: a large one of a group laid out flat in part, or any group that is not flat);
    ``state['step']`` already counts this step.

    Returns:
        True when the update was done (the parameter and the state are updated in place, and
        the state's numbers set); False when nothing changed and the plain ``update`` must run:
        fused kernels off, NumPy arrays, a dtype other than float32/float64, an algorithm or
        option without a kernel, or a state buffer that ``update`` still has to create.
    """
    if not ENABLED or (type(grad) is np.ndarray and HOST_RUNNER is None):
        return False
    planner = plan(type(optimizer))
    if planner is None or grad.dtype not in _DTYPES:
        return False
    launch = planner(group, state)
    if launch is None:
        return False
    arrays = {}
    for name, source in launch.kernel.arrays.items():
        array = p.array if source == "param" else grad if source == "grad" else state[source]
        if array is None:  # a buffer created by update (an option switched on since)
            return False
        arrays[name] = array
    if type(grad) is np.ndarray:
        HOST_RUNNER(launch.kernel, arrays, launch.scalars)
    else:
        launch.kernel.launch(arrays, launch.scalars)
    state.update(launch.numbers)
    return True


def plan(cls: type) -> Callable[[dict, dict], Launch | None] | None:
    """The planner of an optimizer class: ``planner(group, state) -> Launch | None``, or None
    when its ``update`` has no fused kernel (looked up by the ``update`` the class uses)."""
    try:
        return _PLANNER_OF_TYPE[cls]
    except KeyError:
        update = getattr(cls, "update", None)
        key = f"{getattr(update, '__module__', '')}.{getattr(update, '__qualname__', '')}"
        planner = _PLANNER_OF_TYPE[cls] = _PLANNERS.get(key)
        return planner


def fused_algorithms() -> list[str]:
    """The ``update`` functions that have a fused kernel (``module.Class.update``)."""
    return sorted(_PLANNERS)


def _fuses(update: str) -> Callable:
    def register(planner: Callable) -> Callable:
        _PLANNERS["minigrad.optim." + update] = planner
        return planner
    return register


# The lines shared by several rules, each the body form of a helper of optimizer.py.
def _gradient(weight_decay: float) -> str:
    """``g``: the gradient, plus coupled L2 when ``weight_decay != 0`` (``l2_penalty``)."""
    return "g = grad + weight_decay * theta\n" if weight_decay != 0 else "g = grad\n"


def _decay(decoupled: bool, weight_decay: float) -> str:
    """Decoupled decay ``theta *= 1 - lr wd`` before the step (``decoupled_decay``)."""
    return "theta *= decay\n" if decoupled and weight_decay != 0 else ""


_FIRST_MOMENT = "m = m * beta1 + one_minus_beta1 * g\n"        # ema_(m, g, beta1)
_SECOND_MOMENT = "v += (g * g - v) * one_minus_beta2\n"        # ema_of_square_(v, g, beta2)


def _betas(group: dict, t: int) -> dict[str, float]:
    """The scalars of the moment lines and of ``adam_denominator`` at step t."""
    beta1, beta2 = group["betas"]
    return dict(beta1=beta1, one_minus_beta1=1.0 - beta1, beta2=beta2,
                one_minus_beta2=1.0 - beta2, eps=group["eps"],
                inv_sqrt_bias2=1.0 / math.sqrt(1.0 - beta2**t))


def _decays(group: dict, lr: float | None = None) -> dict[str, float]:
    wd = group["weight_decay"]
    return dict(weight_decay=wd, decay=1.0 - (group["lr"] if lr is None else lr) * wd)


def _name(base: str, *flags: tuple[bool, str]) -> str:
    return "_".join(["minigrad", base] + [suffix for on, suffix in flags if on])


# ------------------------------------------------------------------------------- the rules
# Each planner writes its algorithm's ``update`` (same file, same order of operations) as a
# body, and computes the scalars as ``update`` computes them on the host.

def _sgd(group: dict, state: dict, decoupled: bool) -> Launch | None:
    mu, wd = group["momentum"], group["weight_decay"]
    if mu != 0 and state["momentum_buffer"] is None:
        return None  # the first momentum step: update creates b_1 = g_1
    body = _decay(decoupled, wd) + _gradient(0 if decoupled else wd)
    arrays = dict(theta="param", grad="grad")
    if mu == 0:
        body += "theta -= lr * g\n"
    else:
        arrays["b"] = "momentum_buffer"
        body += "b = b * momentum + one_minus_dampening * g\n"     # b_t = mu b + (1 - tau) g
        body += "theta -= lr * (g + momentum * b)\n" if group["nesterov"] else "theta -= lr * b\n"
    name = _name("sgdw" if decoupled else "sgd", (wd != 0, "decay"), (mu != 0, "momentum"),
                 (mu != 0 and group["nesterov"], "nesterov"))
    return Launch(kernel(name, body, **arrays),
                  dict(lr=group["lr"], momentum=mu, one_minus_dampening=1 - group["dampening"],
                       **_decays(group)))


@_fuses("sgd.SGD.update")
def _sgd_coupled(group: dict, state: dict) -> Launch | None:
    """SGD (sgd.py): coupled L2, (Nesterov) momentum with dampening."""
    return _sgd(group, state, decoupled=False)


@_fuses("sgdw.SGDW.update")
def _sgd_decoupled(group: dict, state: dict) -> Launch | None:
    """SGDW (sgdw.py): SGD's momentum, decoupled decay."""
    return _sgd(group, state, decoupled=True)


@_fuses("adagrad.Adagrad.update")
def _adagrad(group: dict, state: dict) -> Launch:
    """Adagrad (adagrad.py): G += g^2; theta -= lr_t g / (sqrt(G) + eps)."""
    wd, t = group["weight_decay"], state["step"]
    body = _gradient(wd) + "s += g * g\ntheta -= lr_t * g / (sqrt(s) + eps)\n"
    return Launch(kernel(_name("adagrad", (wd != 0, "l2")), body, theta="param", grad="grad",
                         s="sum"),
                  dict(weight_decay=wd, eps=group["eps"],
                       lr_t=group["lr"] / (1 + (t - 1) * group["lr_decay"])))


@_fuses("adadelta.Adadelta.update")
def _adadelta(group: dict, state: dict) -> Launch:
    """Adadelta (adadelta.py)."""
    wd = group["weight_decay"]
    body = _gradient(wd) + (
        "v += (g * g - v) * one_minus_rho\n"
        "delta = sqrt(u + eps) / sqrt(v + eps) * g\n"   # RMS[Dx]_{t-1} / RMS[g]_t g_t
        "u += (delta * delta - u) * one_minus_rho\n"
        "theta -= lr * delta\n")
    return Launch(kernel(_name("adadelta", (wd != 0, "l2")), body, theta="param", grad="grad",
                         v="square_avg", u="acc_delta"),
                  dict(weight_decay=wd, eps=group["eps"], lr=group["lr"],
                       one_minus_rho=1.0 - group["rho"]))


@_fuses("rmsprop.RMSprop.update")
def _rmsprop(group: dict, state: dict) -> Launch:
    """RMSprop (rmsprop.py), plain, centered and/or with momentum."""
    wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
    body = _gradient(wd) + "v += (g * g - v) * one_minus_alpha\n"
    arrays = dict(theta="param", grad="grad", v="square_avg")
    if centered:
        arrays["gbar"] = "grad_avg"
        body += "gbar = gbar * alpha + one_minus_alpha * g\ns = sqrt(v - gbar * gbar) + eps\n"
    else:
        body += "s = sqrt(v) + eps\n"
    if mu > 0:
        arrays["b"] = "momentum_buffer"
        body += "b = b * momentum + g / s\ntheta -= lr * b\n"
    else:
        body += "theta -= lr * g / s\n"
    name = _name("rmsprop", (wd != 0, "l2"), (centered, "centered"), (mu > 0, "momentum"))
    return Launch(kernel(name, body, **arrays),
                  dict(weight_decay=wd, alpha=group["alpha"], one_minus_alpha=1.0 - group["alpha"],
                       eps=group["eps"], momentum=mu, lr=group["lr"]))


@_fuses("adam.Adam.update")
def _adam(group: dict, state: dict) -> Launch:
    """Adam, AMSGrad, AdamW (adam.py)."""
    wd, t, amsgrad = group["weight_decay"], state["step"], group["amsgrad"]
    decoupled = group["decoupled_weight_decay"]
    v = "v_max" if amsgrad else "v"
    body = _decay(decoupled, wd) + _gradient(0 if decoupled else wd) + _FIRST_MOMENT \
        + _SECOND_MOMENT + ("v_max = maximum(v_max, v)\n" if amsgrad else "") \
        + f"theta -= m / (sqrt({v}) * inv_sqrt_bias2 + eps) * step_size\n"
    arrays = dict(theta="param", grad="grad", m="exp_avg", v="exp_avg_sq")
    if amsgrad:
        arrays["v_max"] = "max_exp_avg_sq"
    name = _name("adam", (wd != 0, "decoupled" if decoupled else "l2"), (amsgrad, "amsgrad"))
    return Launch(kernel(name, body, **arrays),
                  dict(step_size=group["lr"] / (1 - group["betas"][0]**t), **_betas(group, t),
                       **_decays(group)))


@_fuses("adamax.Adamax.update")
def _adamax(group: dict, state: dict) -> Launch:
    """Adamax (adamax.py): u_t = max(beta2 u, |g| + eps)."""
    wd, t = group["weight_decay"], state["step"]
    body = _gradient(wd) + _FIRST_MOMENT + (
        "u = maximum(u * beta2, abs(g) + eps)\n"
        "theta -= step_size * m / u\n")
    return Launch(kernel(_name("adamax", (wd != 0, "l2")), body, theta="param", grad="grad",
                         m="exp_avg", u="exp_inf"),
                  dict(step_size=group["lr"] / (1 - group["betas"][0]**t), **_betas(group, t),
                       **_decays(group)))


@_fuses("nadam.NAdam.update")
def _nadam(group: dict, state: dict) -> Launch:
    """NAdam (nadam.py); the momentum schedule's product is a number of the state."""
    lr, (beta1, _), psi = group["lr"], group["betas"], group["momentum_decay"]
    wd, t, decoupled = group["weight_decay"], state["step"], group["decoupled_weight_decay"]
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
    mu_product = state["mu_product"] * mu
    body = _decay(decoupled, wd) + _gradient(0 if decoupled else wd) + _FIRST_MOMENT \
        + _SECOND_MOMENT + (
            "denom = sqrt(v) * inv_sqrt_bias2 + eps\n"
            "theta -= grad_step * g / denom\n"
            "theta -= momentum_step * m / denom\n")
    name = _name("nadam", (wd != 0, "decoupled" if decoupled else "l2"))
    return Launch(kernel(name, body, theta="param", grad="grad", m="exp_avg", v="exp_avg_sq"),
                  dict(grad_step=lr * (1 - mu) / (1 - mu_product),
                       momentum_step=lr * mu_next / (1 - mu_product * mu_next),
                       **_betas(group, t), **_decays(group)),
                  numbers={"mu_product": mu_product})


@_fuses("radam.RAdam.update")
def _radam(group: dict, state: dict) -> Launch:
    """RAdam (radam.py): the rectified step while rho_t > 5, else momentum SGD."""
    from .optimizer import rectification, sma_length  # noqa: PLC0415 (it imports this module)

    lr, (beta1, beta2) = group["lr"], group["betas"]
    wd, t, decoupled = group["weight_decay"], state["step"], group["decoupled_weight_decay"]
    bias_correction1 = 1 - beta1**t
    rho_inf, rho_t = sma_length(beta2, t)
    rectified = rho_t > 5
    body = _decay(decoupled, wd) + _gradient(0 if decoupled else wd) + _FIRST_MOMENT \
        + _SECOND_MOMENT
    if rectified:
        body += "theta -= step_size * m / (sqrt(v) + eps)\n"
        step_size = (lr * rectification(rho_inf, rho_t) * math.sqrt(1 - beta2**t)
                     / bias_correction1)
    else:
        body += "theta -= step_size * m\n"
        step_size = lr / bias_correction1
    name = _name("radam", (wd != 0, "decoupled" if decoupled else "l2"),
                 (rectified, "rectified"))
    return Launch(kernel(name, body, theta="param", grad="grad", m="exp_avg", v="exp_avg_sq"),
                  dict(step_size=step_size, **_betas(group, t), **_decays(group)))


@_fuses("adabelief.AdaBelief.update")
def _adabelief(group: dict, state: dict) -> Launch:
    """AdaBelief (adabelief.py) with its package options: decay kinds, amsgrad, rectify."""
    from .optimizer import rectification, sma_length  # noqa: PLC0415 (it imports this module)

    lr, (beta1, beta2), t = group["lr"], group["betas"], state["step"]
    wd, decoupled, amsgrad = group["weight_decay"], group["weight_decouple"], group["amsgrad"]
    body = _decay(decoupled, wd) + _gradient(0 if decoupled else wd) + _FIRST_MOMENT + (
        "d = g - m\n"
        "s += (d * d - s) * one_minus_beta2\n"            # ema_of_square_(s, g - m, beta2)
        "s += eps\n")
    arrays = dict(theta="param", grad="grad", m="exp_avg", s="exp_avg_var")
    if amsgrad:
        arrays["s_max"] = "max_exp_avg_var"
        body += "s_max = maximum(s_max, s)\n"
    s = "s_max" if amsgrad else "s"
    bias1 = 1.0 - beta1**t
    rule = "adam"
    if not group["rectify"]:
        body += f"theta -= step_size * (m / (sqrt({s}) * inv_sqrt_bias2 + eps))\n"
        step_size = lr / bias1
    else:
        rho_inf, rho_t = sma_length(beta2, t)
        if rho_t >= 5.0:
            rule = "rectified"
            body += f"theta -= step_size * (m / (sqrt({s}) + eps))\n"
            step_size = lr * (math.sqrt(1.0 - beta2**t) * rectification(rho_inf, rho_t)) / bias1
        elif group["degenerated_to_sgd"]:
            rule = "sgd"
            body += "theta -= step_size * m\n"
            step_size = lr / bias1
        else:
            rule, step_size = "nostep", 0.0  # no step: only the moments move
            if "theta" not in body:
                del arrays["theta"]
    name = _name("adabelief", (wd != 0, "decoupled" if decoupled else "l2"),
                 (amsgrad, "amsgrad"), (True, rule))
    scalars = dict(step_size=step_size, **_betas(group, t),
                   **_decays(group, 1.0 if group["fixed_decay"] else lr))
    return Launch(kernel(name, body, **arrays), scalars)


@_fuses("diffgrad.DiffGrad.update")
def _diffgrad(group: dict, state: dict) -> Launch:
    """diffGrad (diffgrad.py): Adam with the friction xi = sigmoid(|g_{t-1} - g_t|)."""
    wd, t = group["weight_decay"], state["step"]
    body = _gradient(wd) + _FIRST_MOMENT + _SECOND_MOMENT + (
        "xi = 1.0 / (1.0 + exp(-abs(previous - g)))\n"
        "previous = g\n"
        "theta -= step_size * xi * m / (sqrt(v) * inv_sqrt_bias2 + eps)\n")
    return Launch(kernel(_name("diffgrad", (wd != 0, "l2")), body, theta="param", grad="grad",
                         m="exp_avg", v="exp_avg_sq", previous="previous_grad"),
                  dict(step_size=group["lr"] / (1.0 - group["betas"][0]**state["step"]),
                       **_betas(group, t), **_decays(group)))


@_fuses("lion.Lion.update")
def _lion(group: dict, state: dict) -> Launch:
    """Lion (lion.py): theta -= lr sign(beta1 m + (1 - beta1) g); m = EMA_beta2(g)."""
    wd = group["weight_decay"]
    body = _decay(True, wd) + (
        "c = beta1 * m + one_minus_beta1 * grad\n"
        "theta -= lr * sign(c)\n"
        "m = m * beta2 + one_minus_beta2 * grad\n")
    beta1, beta2 = group["betas"]
    return Launch(kernel(_name("lion", (wd != 0, "decoupled")), body, theta="param",
                         grad="grad", m="exp_avg"),
                  dict(lr=group["lr"], beta1=beta1, one_minus_beta1=1.0 - beta1, beta2=beta2,
                       one_minus_beta2=1.0 - beta2, **_decays(group)))


@_fuses("ftrl.FTRL.update")
def _ftrl(group: dict, state: dict) -> Launch:
    """FTRL-Proximal as Keras (ftrl.py). ``n**0.5`` is NumPy's sqrt (its fast path), so the
    kernel takes sqrt for c = 0.5 and pow otherwise."""
    lr, c = group["lr"], -group["learning_rate_power"]
    shrinkage = group["l2_shrinkage_regularization_strength"]
    power = "sqrt({})" if c == 0.5 else "power({}, c)"
    body = (f"n_prev_pow = {power.format('n')}\n"
            "n += grad * grad\n"
            f"n_pow = {power.format('n')}\n"
            "sigma = (n_pow - n_prev_pow) * inv_lr\n"
            "z += grad\n"
            + ("z += two_shrinkage * w\n" if shrinkage != 0 else "")
            + "z -= sigma * w\n"
            "w = (clip(z, -l1, l1) - z) / ((n_pow + beta) * inv_lr + two_l2)\n")
    name = _name("ftrl", (c == 0.5, "sqrt"), (shrinkage != 0, "shrinkage"))
    return Launch(kernel(name, body, w="param", grad="grad", n="accumulator", z="linear"),
                  dict(c=c, inv_lr=1.0 / lr, two_shrinkage=2.0 * shrinkage,
                       l1=group["l1_regularization_strength"], beta=group["beta"],
                       two_l2=2.0 * group["l2_regularization_strength"]))


@_fuses("adainject.AdaInject.update")
def _adainject(group: dict, state: dict) -> Launch:
    """AdaInject (adainject.py): the first moment of (g + Delta theta g^2) / k."""
    wd, t = group["weight_decay"], state["step"]
    inject = "g" if t == 1 else "((previous - theta) * (g * g) + g) / k"
    body = _gradient(wd) + (
        f"injected = {inject}\n"
        "previous = theta\n"
        "m = m * beta1 + one_minus_beta1 * injected\n"
        + _SECOND_MOMENT
        + "theta -= step_size * (m / (sqrt(v) * inv_sqrt_bias2 + eps))\n")
    return Launch(kernel(_name("adainject", (wd != 0, "l2"), (t == 1, "first")), body,
                         theta="param", grad="grad", m="exp_avg", v="exp_avg_sq",
                         previous="previous_param"),
                  dict(step_size=group["lr"] / (1.0 - group["betas"][0]**t), k=group["k"],
                       **_betas(group, t), **_decays(group)))


@_fuses("angulargrad.AngularGrad.update")
def _angulargrad(group: dict, state: dict) -> Launch:
    """AngularGrad (angulargrad.py), 'cos' and 'tan': Adam scaled by phi(A_min)."""
    wd, t, method = group["weight_decay"], state["step"], group["method"]
    body = _gradient(wd) + _FIRST_MOMENT + _SECOND_MOMENT + (
        "angle = arctan2(abs(previous - g), abs(1.0 + previous * g))\n"
        "min_angle = minimum(min_angle, angle)\n"
        "previous = g\n"
        f"phi = tanh(abs({method}(min_angle))) * 0.5 + 0.5\n"   # lambda_1 = lambda_2 = 0.5
        "theta -= step_size * phi * m / (sqrt(v) * inv_sqrt_bias2 + eps)\n")
    return Launch(kernel(_name("angulargrad", (wd != 0, "l2"), (True, method)), body,
                         theta="param", grad="grad", m="exp_avg", v="exp_avg_sq",
                         previous="previous_grad", min_angle="min_angle"),
                  dict(step_size=group["lr"] / (1.0 - group["betas"][0]**t),
                       **_betas(group, t), **_decays(group)))
