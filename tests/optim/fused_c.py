"""Run a fused optimizer kernel's operation on the CPU: the string CuPy would compile.

Two harnesses, both compiled with the system compiler into a shared library called by ctypes:

* :func:`run_c` (a ``fused.HOST_RUNNER``): the kernel's operation and :data:`PREAMBLE` in a C99
  loop over the arrays, each array as a local (``const`` for an input), each scalar a ``const
  T`` argument rounded to the dtype (as CuPy casts a Python scalar for a ``T`` parameter). The
  file includes ``<tgmath.h>``, so that ``sqrt``, ``exp``, ``pow``, ... of a float call the
  float functions, as CUDA C++'s overloads do.
* :func:`stand_in_cupy`: a module with an ``ElementwiseKernel`` that takes what
  ``cupy.ElementwiseKernel`` takes (``in_params``, ``out_params``, ``operation``, ``name``,
  ``preamble``, ``options``, ``no_return``) and, when called with arrays and scalars in
  parameter order, compiles the operation as C++ the way CuPy lays it out (the ``typedef`` of
  ``T``, the preamble, then each input bound as ``const T &name`` and each output as
  ``T &name`` to its element), with ``using namespace std`` for the float overloads. It checks
  the argument list against the parameter strings, as CuPy does. So the code that builds and
  launches the real kernel (``FusedKernel.cupy_kernel``, ``launch``) runs here too.

Both compile with ``-ffp-contract=off`` (``a * b + c`` rounded twice, as the kernels'
``--fmad=false`` on the GPU) and ``-Werror``, so an undeclared name or function fails here
before any GPU sees it.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import types

import numpy as np

from minigrad.optim.fused import PREAMBLE, FusedKernel

COMPILER = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
CXX = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_FLAGS = ["-O2", "-Wall", "-Werror", "-Wno-unused-variable", "-ffp-contract=off",
          "-fno-fast-math", "-fPIC", "-shared"]
_DIR = None


@functools.cache
def _compile(source: str, cxx: bool) -> ctypes.CDLL:
    """The shared library of this source (one compile per distinct source)."""
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix="minigrad_fused_")
    stem = os.path.join(_DIR, hashlib.sha1(source.encode()).hexdigest()[:16])
    path = stem + (".cpp" if cxx else ".c")
    with open(path, "w") as f:
        f.write(source)
    command = [CXX, "-std=c++14"] if cxx else [COMPILER, "-std=c99"]
    result = subprocess.run(command + _FLAGS + ["-o", stem + ".so", path, "-lm"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"does not compile:\n{result.stderr}\n--- source ---\n{source}")
    library = ctypes.CDLL(stem + ".so")
    library.mg_run.restype = None
    library.mg_run.argtypes = [ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p]
    return library


def _run(library: ctypes.CDLL, arrays: list, scalars: list, dtype: np.dtype,
         n_outputs: int) -> None:
    """Run the compiled loop over ``arrays`` (inputs, then the last ``n_outputs`` outputs)
    element by element in their logical (C) order, as a ``cupy.ElementwiseKernel`` indexes
    its arguments: an array in another layout (a column-major ``nn.Linear`` weight, its
    state, a gradient in the other order) goes through a C-ordered copy, and an output's
    copy is written back."""
    first = arrays[0]
    for a in arrays:
        if a.dtype != dtype or a.shape != first.shape:
            raise ValueError(f"expected {dtype} arrays of shape {first.shape}, got "
                             f"{a.dtype} {a.shape}")
    flat = [np.ascontiguousarray(a) for a in arrays]
    pointers = (ctypes.c_void_p * len(flat))(*[a.ctypes.data for a in flat])
    values = np.array(list(scalars) or [0.0], dtype=dtype)
    library.mg_run(first.size, pointers, values.ctypes.data)
    for a, c in zip(arrays[len(arrays) - n_outputs:], flat[len(flat) - n_outputs:]):
        if c is not a:
            a[...] = c


# ----------------------------------------------------------------------------- C99 runner
def c_source(kernel: FusedKernel, dtype: np.dtype) -> str:
    """The C file: the kernel's operation in a loop over ``size`` elements."""
    arrays = kernel.inputs + kernel.outputs
    lines = ["#include <stddef.h>", "#include <tgmath.h>", f"typedef {_CTYPES[dtype]} T;",
             PREAMBLE,
             "void mg_run(ptrdiff_t size, T *const *arrays, const T *scalars) {"]
    lines += [f"  const T {name} = scalars[{j}];" for j, name in enumerate(kernel.scalars)]
    lines.append("  for (ptrdiff_t mg_index = 0; mg_index < size; ++mg_index) {")
    for j, name in enumerate(arrays):
        const = "const " if name in kernel.inputs else ""
        lines.append(f"    {const}T {name} = arrays[{j}][mg_index];")
    lines += ["    " + line for line in kernel.operation.splitlines()]
    lines += [f"    arrays[{arrays.index(name)}][mg_index] = {name};" for name in kernel.outputs]
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def run_c(kernel: FusedKernel, arrays: dict, scalars: dict) -> None:
    """A ``fused.HOST_RUNNER``: run the compiled operation on contiguous NumPy arrays."""
    names = kernel.inputs + kernel.outputs
    dtype = arrays[names[0]].dtype
    _run(_compile(c_source(kernel, dtype), cxx=False), [arrays[n] for n in names],
         [scalars[n] for n in kernel.scalars], dtype, len(kernel.outputs))


def run_numpy(kernel: FusedKernel, arrays: dict, scalars: dict) -> None:
    """A ``fused.HOST_RUNNER``: the body's NumPy form."""
    kernel.run_numpy(arrays, scalars)


# --------------------------------------------------------------------- a CuPy stand-in
def _names(params: str) -> list[str]:
    names = []
    for param in params.split(","):
        words = param.split()
        if len(words) != 2 or words[0] != "T":
            raise ValueError(f"stand-in ElementwiseKernel: expected 'T name', got {param!r}")
        names.append(words[1])
    return names


class StandInElementwiseKernel:
    """``cupy.ElementwiseKernel`` for NumPy arrays of one dtype (see the module docstring)."""

    def __init__(self, in_params, out_params, operation, name="kernel", reduce_dims=True,
                 preamble="", no_return=False, return_tuple=False, **kwargs):
        self.inputs, self.outputs = _names(in_params), _names(out_params)
        if "i" in self.inputs + self.outputs:
            raise ValueError("Can not use 'i' as a parameter name")  # as CuPy
        self.operation, self.name, self.preamble = operation, name, preamble
        self.no_return, self.kwargs = no_return, kwargs
        self.launches = 0

    def source(self, dtype, array_inputs: list[str], scalar_inputs: list[str]) -> str:
        lines = ["#include <cstddef>", "#include <cmath>",
                 "using namespace std;  // float overloads of sqrt, pow, ... as in CUDA C++",
                 f"typedef {_CTYPES[dtype]} T;", self.preamble,
                 "extern \"C\" void mg_run(std::ptrdiff_t size, T *const *arrays, "
                 "const T *scalars) {"]
        lines += [f"  const T {n} = scalars[{j}];" for j, n in enumerate(scalar_inputs)]
        lines.append("  for (std::ptrdiff_t i = 0; i < size; ++i) {")
        lines += [f"    const T &{n} = arrays[{j}][i];" for j, n in enumerate(array_inputs)]
        lines += [f"    T &{n} = arrays[{len(array_inputs) + j}][i];"
                  for j, n in enumerate(self.outputs)]
        lines += [self.operation, "  }", "}", ""]
        return "\n".join(lines)

    def __call__(self, *args):
        if len(args) != len(self.inputs) + len(self.outputs):
            raise TypeError(f"Wrong number of arguments for {self.name!r}: {len(args)}")
        ins, outs = args[:len(self.inputs)], args[len(self.inputs):]
        if not all(isinstance(a, np.ndarray) for a in outs):
            raise TypeError("Output arguments type must be cupy.ndarray")
        arrays = [a for a in ins if isinstance(a, np.ndarray)] + list(outs)
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) != 1:
            raise TypeError(f"Type is mismatched: {dtypes}")
        dtype = dtypes.pop()
        array_inputs = [n for n, a in zip(self.inputs, ins) if isinstance(a, np.ndarray)]
        scalar_inputs = [n for n, a in zip(self.inputs, ins) if not isinstance(a, np.ndarray)]
        scalars = [a for a in ins if not isinstance(a, np.ndarray)]
        library = _compile(self.source(dtype, array_inputs, scalar_inputs), cxx=True)
        _run(library, [np.asarray(a) for a in arrays], scalars, dtype, len(outs))
        self.launches += 1
        return None if self.no_return else outs


def stand_in_cupy() -> types.ModuleType:
    """A module named ``cupy`` whose ``ElementwiseKernel`` is the stand-in; ``kernels`` lists
    every kernel built through it."""
    module = types.ModuleType("cupy")
    module.kernels = []

    def elementwise_kernel(*args, **kwargs):
        kernel = StandInElementwiseKernel(*args, **kwargs)
        module.kernels.append(kernel)
        return kernel

    module.ElementwiseKernel = elementwise_kernel
    return module
