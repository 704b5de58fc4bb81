"""Run a fused optimizer kernel's C++ operation on the CPU: the string CuPy would compile.

The operation of a :class:`minigrad.optim.fused.FusedKernel` (and the :data:`PREAMBLE` macros)
is put, unchanged, inside a loop over float arrays the way ``cupy.ElementwiseKernel`` puts it
inside its grid-stride loop: each input as ``const T name = x[k]``, each output as a local that
is stored back after the operation, each scalar as a ``const T`` argument (rounded to the
dtype, as CuPy casts a Python scalar passed for a ``T`` parameter). The file is compiled as C99
with ``<tgmath.h>``, so that ``sqrt``, ``exp``, ``pow``, ... of a float call the float functions
as CUDA C++'s overloads do; ``-ffp-contract=off`` keeps ``a * b + c`` two roundings, as the
kernel's ``--fmad=false`` does on the GPU. Undeclared names and functions are errors
(``-Werror``), so a body that renders to bad C fails here before any GPU sees it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import subprocess
import tempfile

import numpy as np

from minigrad.optim.fused import PREAMBLE, FusedKernel

COMPILER = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_DIR = None


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


@functools.cache
def _library(kernel: FusedKernel, dtype: np.dtype) -> ctypes.CDLL:
    global _DIR
    if _DIR is None:
        _DIR = tempfile.mkdtemp(prefix="minigrad_fused_")
    stem = os.path.join(_DIR, f"{kernel.name}_{id(kernel)}_{_CTYPES[dtype]}")
    with open(stem + ".c", "w") as f:
        f.write(c_source(kernel, dtype))
    result = subprocess.run(
        [COMPILER, "-std=c99", "-O2", "-Wall", "-Werror", "-Wno-unused-variable",
         "-ffp-contract=off", "-fno-fast-math", "-fPIC", "-shared", "-o", stem + ".so",
         stem + ".c", "-lm"], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the C of kernel {kernel.name} does not compile:\n{result.stderr}\n"
                           f"--- source ---\n{c_source(kernel, dtype)}")
    library = ctypes.CDLL(stem + ".so")
    library.mg_run.restype = None
    library.mg_run.argtypes = [ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p]
    return library


def run_c(kernel: FusedKernel, arrays: dict, scalars: dict) -> None:
    """A ``fused.HOST_RUNNER``: run the compiled operation on contiguous NumPy arrays."""
    names = kernel.inputs + kernel.outputs
    first = arrays[names[0]]
    dtype = first.dtype
    for name in names:
        a = arrays[name]
        if a.dtype != dtype or a.shape != first.shape or not a.flags.c_contiguous:
            raise ValueError(f"array {name}: expected C-contiguous {dtype} {first.shape}, got "
                             f"{a.dtype} {a.shape}")
    pointers = (ctypes.c_void_p * len(names))(*[arrays[n].ctypes.data for n in names])
    values = np.array([scalars[n] for n in kernel.scalars] or [0.0], dtype=dtype)
    _library(kernel, dtype).mg_run(first.size, pointers, values.ctypes.data)


def run_numpy(kernel: FusedKernel, arrays: dict, scalars: dict) -> None:
    """A ``fused.HOST_RUNNER``: the body's NumPy form."""
    kernel.run_numpy(arrays, scalars)
