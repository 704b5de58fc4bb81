"""Reddi et al.'s online problem, on which Adam converges to the worst point and AMSGrad does not.

Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018, section 3. On the
feasible set [-1, 1], the loss at step t is::

    f_t(x) = 1010 x    if t mod 101 == 1
    f_t(x) = -10 x     otherwise

Over each period of 101 steps the sum is 1010 x - 100 * 10 x = 10 x, so the best fixed point
is x = -1. With betas (0.9, 0.99) and alpha_t = 0.1 / sqrt(t) (``InverseTimeLR(decay=1,
power=0.5)``), Adam's second moment forgets the rare large gradient within a few dozen steps,
so the 100 small pushes towards +1 outweigh the one large push towards -1: x drifts to +1.
AMSGrad divides by the running maximum of v_t, so the large gradient keeps its weight and x
stays near -1. After every step x is projected back onto [-1, 1].

Usage::

    python3 examples/amsgrad_counterexample.py          # ~5 s; writes runs/amsgrad/amsgrad.png
    python3 examples/amsgrad_counterexample.py --animate    # also runs/amsgrad/amsgrad.gif
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import _common as C
import numpy as np

import minigrad
from minigrad.optim import lr_scheduler


def f_t(t: int, x):
    """The online loss of step t (1-based)."""
    return (1010.0 if t % 101 == 1 else -10.0) * x


def run(name: str, steps: int, device: str) -> np.ndarray:
    """x after each of ``steps`` projected steps of optimizer ``name`` from x = 0."""
    x = minigrad.Parameter(minigrad.zeros(1, device=device).array)
    opt = C.optimizer_class(name)([x], lr=0.1, betas=(0.9, 0.99))
    sched = lr_scheduler.InverseTimeLR(opt, decay=1.0, power=0.5)   # 0.1 / sqrt(t)
    xs = np.empty(steps)
    for t in range(1, steps + 1):
        opt.zero_grad()
        f_t(t, x).sum().backward()
        opt.step()
        sched.step()
        with minigrad.no_grad():
            x.clamp_(-1.0, 1.0)                    # projection onto the feasible set
        xs[t - 1] = x.item()
    return xs


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "amsgrad"))
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--animate", action="store_true",
                   help="also write amsgrad.gif: x_t of both optimizers over time")
    p.add_argument("--frames", type=int, default=60, help="frames of the animation")
    args = p.parse_args(argv)
    device = C.setup(args)

    final, trajectories = {}, {}
    fig, axes = C.figure(size=(7.0, 4.0))
    ax = axes[0][0]
    with C.Timer() as timer:
        for name in ("Adam", "AMSGrad"):
            xs = run(name, args.steps, device)
            final[name] = float(xs[-1])
            trajectories[name] = xs
            ax.plot(np.arange(1, args.steps + 1), xs, lw=1.0, label=name)
            marks = sorted({max(1, args.steps // d) for d in (20, 4, 2, 1)})
            trail = ", ".join(f"x_{k} = {xs[k - 1]:+.4f}" for k in marks)
            print(f"{name:8s} {trail}")
    print("optimum x = -1: Adam drifts towards the worst point +1, AMSGrad towards -1 (slowly: "
          "its steps shrink as 0.1/sqrt(t))" if final["Adam"] > 0 > final["AMSGrad"] else
          "(with this few steps the drift has not separated them yet; try --steps 20000)")
    print(f"time: {timer.seconds:.1f} s")
    ax.axhline(-1.0, color="k", ls=":", lw=1, label="optimum x = -1")
    ax.set_xlabel("step t")
    ax.set_ylabel("x_t")
    ax.set_ylim(-1.1, 1.1)
    ax.set_title("f_t(x) = 1010x if t mod 101 = 1 else -10x; betas (0.9, 0.99), 0.1/sqrt(t)")
    ax.title.set_fontsize(9)
    ax.legend()
    figure = C.savefig(fig, args.out_dir, "amsgrad.png")
    gif = animate(trajectories, args.out_dir, args.frames) if args.animate else None
    return {"final_x": final, "figure": figure, "animation": gif}


def animate(trajectories: dict[str, np.ndarray], out_dir: str, frames: int) -> str:
    """An animated GIF: left, x_t so far; right, each optimizer's current x on the feasible
    segment [-1, 1], with the optimum at -1 and the worst point at +1."""
    fig, axes = C.figure(ncols=2, size=(4.6, 3.4))
    left, right = axes[0]
    steps = len(next(iter(trajectories.values())))
    t = np.arange(1, steps + 1)
    left.set_xlim(1, steps)
    left.set_ylim(-1.1, 1.1)
    left.axhline(-1.0, color="k", ls=":", lw=1)
    left.set_xlabel("step t")
    left.set_ylabel("x_t")
    right.set_xlim(-1.15, 1.15)
    right.set_ylim(-0.5, len(trajectories) - 0.5)
    right.axvline(-1.0, color="g", ls=":", lw=1)
    right.axvline(1.0, color="r", ls=":", lw=1)
    right.set_yticks(range(len(trajectories)), list(trajectories))
    right.set_xlabel("x (optimum -1, worst +1)")
    right.set_title("t = 0")  # so the layout leaves room for it
    lines, dots = [], []
    for k, (name, xs) in enumerate(trajectories.items()):
        (line,) = left.plot([], [], lw=1.0, color=f"C{k}", label=name)
        (dot,) = right.plot([], [], "o", ms=10, color=f"C{k}")
        lines.append((xs, line))
        dots.append((xs, dot, k))
    left.legend(loc="lower right")

    def update(i):
        n = max(1, round((i + 1) / frames * steps))
        for xs, line in lines:
            line.set_data(t[:n], xs[:n])
        for xs, dot, k in dots:
            dot.set_data([xs[n - 1]], [k])
        right.set_title(f"t = {n}")
        return []

    return C.save_animation(fig, update, frames, out_dir, "amsgrad.gif")


if __name__ == "__main__":
    main()
