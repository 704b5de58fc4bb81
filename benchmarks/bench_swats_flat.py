"""SWATS's flat step in each of its phases: 50 Linear(32, 32) layers against one tensor.

``bench_optim.py --model small`` times SWATS in its Adam phase (its fixed gradients never
settle the rate estimate within the timed steps). This times the same model with every tensor
in the Adam phase, every tensor in the SGD phase, and tensors in both phases (every second
tensor, the biases, switched: the flat group's per-element factors), each against ONE tensor
of the same total size in the same phase (for "both", the one tensor is in the Adam phase, the
dearer of the two). The phases are set through ``load_state_dict`` after three steps. Steps of
the two sides alternate; reported are the medians (ms) and their ratio.

    python benchmarks/bench_swats_flat.py --rounds 300
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workloads import SMALL_MODEL, small_model_params  # noqa: E402

from minigrad.optim import SWATS  # noqa: E402

SHAPES = SMALL_MODEL
PHASES = {"adam": lambda i: "adam", "sgd": lambda i: "sgd",
          "both": lambda i: "sgd" if i % 2 else "adam"}


def build(phase_of, one_tensor: bool) -> SWATS:
    """SWATS over the model (or over one tensor of its size), its tensors in the given
    phases (by parameter index)."""
    params = small_model_params(one_tensor)
    opt = SWATS(params)
    for _ in range(3):
        opt.step()
    saved = opt.state_dict()
    for index, state in saved["state"].items():
        if phase_of(index) == "sgd":
            state.update(phase="sgd", sgd_lr=1e-3, switch_step=2, switch_lr=1e-3)
    opt.load_state_dict(saved)
    for _ in range(3):
        opt.step()
    return opt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200, help="timed steps per side")
    args = ap.parse_args(argv)
    print(f"# SWATS step, 50 Linear(32, 32) (100 tensors) vs 1 tensor, median of {args.rounds} "
          "alternating steps")
    print(f"{'phases':8s} {'100 ms':>8s} {'1 ms':>8s} {'x 1 tensor':>11s}")
    for name, phase_of in PHASES.items():
        sides = (build(phase_of, False), build(PHASES["adam" if name == "both" else name], True))
        times: list[list[float]] = [[], []]
        for i in range(args.rounds):
            for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                t0 = time.perf_counter()
                sides[side].step()
                times[side].append(time.perf_counter() - t0)
        many, one = (float(np.median(t)) * 1e3 for t in times)
        print(f"{name:8s} {many:8.3f} {one:8.3f} {many / one:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
