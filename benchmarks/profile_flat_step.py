"""Where the steady flat step of an optimizer over 50 Linear(32, 32) layers spends its time.

The parts of ``Optimizer._steady_step`` timed one by one (best of 7 runs of ``--number``
calls each, in us), against the whole step and the same optimizer's step over ONE tensor of
the same total size (``bench_optim.py --model small``'s comparison):

* checks: ``FlatGroup.steady_gradients`` (each parameter still holds its view of the flat
  buffer and its state dict with as many keys; each gradient is its lent view);
* update: the algorithm's ``update`` over the flat buffers;
* step numbers: ``state['step']`` handed back to every parameter's state
  (``FlatGroup.scatter_state``);
* versions: every parameter's version counter bumped (``FlatGroup.bump_versions``: one
  counter shared by the group's parameters);
* each C-level pass over the 100 parameters, for scale.

    python benchmarks/profile_flat_step.py --optimizer SGD
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import operator  # noqa: E402
import sys  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import SMALL_MODEL, small_model_params  # noqa: E402

import minigrad  # noqa: E402
import minigrad.optim  # noqa: E402

SHAPES = SMALL_MODEL


def build(cls: type, one_tensor: bool):
    params = small_model_params(one_tensor)
    opt = cls(params)
    for _ in range(5):
        opt.step()
    return opt, params


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optimizer", default="SGD", help="a class of minigrad.optim")
    ap.add_argument("--number", type=int, default=3000, help="calls per timing run")
    args = ap.parse_args(argv)
    cls = getattr(minigrad.optim, args.optimizer)
    opt, params = build(cls, False)
    one, _ = build(cls, True)
    flat, group = opt._flat[0], opt.param_groups[0]
    if flat.steady_gradients(params, opt.state) is not flat.grad_views:
        raise SystemExit(f"{args.optimizer}: the step is not a steady flat step")

    def us(fn) -> float:
        return min(timeit.repeat(fn, number=args.number, repeat=7)) / args.number * 1e6

    def numbers():
        flat.state["step"] += 1
        flat.scatter_state()

    array = operator.attrgetter("array")
    rows = [
        ("whole step, 100 tensors", us(opt.step)),
        ("whole step, 1 tensor", us(one.step)),
        ("checks (steady_gradients)", us(lambda: flat.steady_gradients(params, opt.state))),
        ("update", us(lambda: opt.update(flat.tensor, flat.grad, flat.state, group))),
        ("step numbers (scatter_state)", us(numbers)),
        ("versions (bump_versions)", us(flat.bump_versions)),
        ("one C-level pass over 100", us(lambda: all(map(operator.is_, map(array, params),
                                                             flat.views)))),
    ]
    print(f"# {args.optimizer}: steady flat step over {len(SHAPES)} tensors, best of 7 x "
          f"{args.number} calls (numpy {np.__version__})")
    for name, value in rows:
        print(f"{name:30s} {value:8.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
