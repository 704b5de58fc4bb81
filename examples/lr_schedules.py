"""Plot every learning-rate scheduler's curve on one figure.

Each panel steps one scheduler of ``minigrad.optim.lr_scheduler`` for 200 steps on an SGD
optimizer with base learning rate 0.1 and draws ``get_last_lr()``; ReduceLROnPlateau is fed a
scripted validation loss that stalls (drawn in grey on a second axis).

Usage::

    python examples/lr_schedules.py --out lr_schedules.png
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import matplotlib

# run from a checkout without installing: put the repository root on the path
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigrad  # noqa: E402
from minigrad.optim import lr_scheduler as S  # noqa: E402
from minigrad.optim.sgd import SGD  # noqa: E402

STEPS = 200
LR = 0.1


def make_optimizer() -> SGD:
    return SGD([minigrad.Parameter(np.zeros(1, dtype=np.float32))], lr=LR, momentum=0.9)


def schedules() -> dict[str, callable]:
    """Title -> a function building the scheduler on a fresh optimizer."""
    return {
        "LambdaLR(0.98**t)": lambda o: S.LambdaLR(o, lambda t: 0.98 ** t),
        "MultiplicativeLR(0.99)": lambda o: S.MultiplicativeLR(o, lambda t: 0.99),
        "StepLR(50, 0.5)": lambda o: S.StepLR(o, step_size=50, gamma=0.5),
        "MultiStepLR([60,120,160])": lambda o: S.MultiStepLR(o, [60, 120, 160], gamma=0.3),
        "ConstantLR(1/3, 40)": lambda o: S.ConstantLR(o, factor=1 / 3, total_iters=40),
        "LinearLR(0.1 -> 1, 80)": lambda o: S.LinearLR(o, 0.1, 1.0, total_iters=80),
        "ExponentialLR(0.98)": lambda o: S.ExponentialLR(o, gamma=0.98),
        "ExponentialDecay(k=0.02)": lambda o: S.ExponentialDecay(o, k=0.02),
        "PolynomialLR(150, 2)": lambda o: S.PolynomialLR(o, total_iters=150, power=2.0),
        "InverseTimeLR(1, 0.5)": lambda o: S.InverseTimeLR(o, decay=1.0, power=0.5),
        "CosineAnnealingLR(100)": lambda o: S.CosineAnnealingLR(o, T_max=100, eta_min=0.005),
        "CosineAnnealingWarmRestarts(20, 2)":
            lambda o: S.CosineAnnealingWarmRestarts(o, T_0=20, T_mult=2, eta_min=0.005),
        "CyclicLR triangular": lambda o: S.CyclicLR(o, 0.01, LR, step_size_up=25),
        "CyclicLR triangular2": lambda o: S.CyclicLR(o, 0.01, LR, 25, mode="triangular2"),
        "CyclicLR exp_range": lambda o: S.CyclicLR(o, 0.01, LR, 25, mode="exp_range",
                                                   gamma=0.99),
        "OneCycleLR cos": lambda o: S.OneCycleLR(o, max_lr=LR, total_steps=STEPS + 1),
        "OneCycleLR linear, 3-phase":
            lambda o: S.OneCycleLR(o, max_lr=LR, total_steps=STEPS + 1,
                                   anneal_strategy="linear", three_phase=True),
        "SequentialLR(Linear, Exp)":
            lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, 1.0, 20), S.ExponentialLR(o, 0.985)],
                                     milestones=[20]),
        "ChainedScheduler(Step, Exp)":
            lambda o: S.ChainedScheduler([S.StepLR(o, 40, 0.5), S.ExponentialLR(o, 0.995)]),
        "WarmupLR(Cosine(180), 20)":
            lambda o: S.WarmupLR(S.CosineAnnealingLR(o, T_max=180), warmup_steps=20),
    }


def curve(build) -> np.ndarray:
    opt = make_optimizer()
    sched = build(opt)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(STEPS):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return np.array(lrs)


def plateau_curve() -> tuple[np.ndarray, np.ndarray]:
    """ReduceLROnPlateau on a loss that improves, then stalls in steps."""
    t = np.arange(STEPS)
    loss = np.maximum(1.0 / (1 + 0.05 * t), 0.35) + 0.01 * np.sin(t)
    opt = make_optimizer()
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=10, cooldown=5)
    lrs = [sched.get_last_lr()[0]]
    for value in loss:
        sched.step(float(value))
        lrs.append(sched.get_last_lr()[0])
    return np.array(lrs), loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="lr_schedules.png", help="the PNG to write")
    args = parser.parse_args(argv)

    builders = schedules()
    n = len(builders) + 1
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), sharex=True)
    axes = axes.ravel()
    steps = np.arange(STEPS + 1)
    for ax, (title, build) in zip(axes, builders.items()):
        ax.plot(steps, curve(build), lw=1.5)
        ax.set_title(title, fontsize=9)
    ax = axes[len(builders)]
    lrs, loss = plateau_curve()
    ax.plot(steps, lrs, lw=1.5)
    ax.set_title("ReduceLROnPlateau(0.5, patience 10)", fontsize=9)
    twin = ax.twinx()
    twin.plot(steps[1:], loss, color="0.6", lw=0.8)
    twin.set_yticks([])
    for ax in axes[n:]:
        ax.axis("off")
    for ax in axes[:n]:
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"minigrad learning-rate schedules (base lr {LR}, {STEPS} steps)")
    fig.supxlabel("step")
    fig.supylabel("learning rate")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
