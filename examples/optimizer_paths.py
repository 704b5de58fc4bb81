"""The paths of 14 optimizers on three 2-D surfaces, drawn over the contours.

* ``saddle``: f(x, y) = x^2 + y^4 / 4 - y^2 / 2, a saddle point at the origin between two
  minima at (0, +-1). Starting at (-1.5, 1e-3), almost on the ridge, the y-gradient is about
  1e-3: SGD leaves the saddle only as fast as its learning rate lets y grow geometrically
  (at small rates it stalls there), while methods that divide by the gradient's scale leave
  at once.
* ``beale``: Beale's function, minimum (3, 0.5), flat plateaus and steep walls.
* ``rosenbrock``: (1 - x)^2 + 100 (y - x^2)^2, a long curved ill-conditioned valley with its
  minimum at (1, 1).

Each optimizer runs a fixed number of steps on each surface with, for each surface, the
learning rate of the grid {1e-4, 3e-4, 1e-3, ..., 0.3, 1} that ended closest to the minimum
(searched once and written into :data:`LR`, so the figure is reproducible; other
hyperparameters are the defaults, momentum 0.9 for Momentum and Nesterov). The table prints
the final distance to the minimum. A different grid, start or budget reorders the table:
there is no best optimizer.

Usage::

    python3 examples/optimizer_paths.py                 # ~15 s; writes runs/paths/*.png
    python3 examples/optimizer_paths.py --animate       # also runs/paths/optimizer_paths.gif
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import _common as C
import numpy as np

import minigrad

OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam",
              "AMSGrad", "Adamax", "NAdam", "RAdam", "AdaBelief", "DiffGrad", "Lion")


def saddle(x, y):
    return x * x + y**4 / 4 - y * y / 2


def beale(x, y):
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2
            + (2.625 - x + x * y * y * y) ** 2)


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


# name: (function, start, minimum, steps, (xmin, xmax, ymin, ymax), log-spaced contours)
SURFACES: dict[str, tuple[Callable, tuple, tuple, int, tuple, bool]] = {
    "saddle": (saddle, (-1.5, 1e-3), (0.0, 1.0), 150, (-2.0, 2.0, -1.5, 1.5), False),
    "beale": (beale, (1.0, 1.5), (3.0, 0.5), 500, (-0.5, 4.0, -1.5, 2.0), True),
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0), 1000, (-2.0, 2.0, -1.0, 3.0), True),
}

# learning rate per (surface, optimizer): the best of {1e-4, 3e-4, ..., 0.3, 1} by final distance
LR = {
    "saddle": dict(SGD=0.3, Momentum=0.1, Nesterov=0.3, Adagrad=1, Adadelta=1, RMSprop=0.1,
                   Adam=0.3, AMSGrad=1, Adamax=1, NAdam=0.1, RAdam=1, AdaBelief=0.3,
                   DiffGrad=0.3, Lion=0.01),
    "beale": dict(SGD=0.03, Momentum=0.003, Nesterov=0.003, Adagrad=1, Adadelta=1,
                  RMSprop=0.03, Adam=1, AMSGrad=1, Adamax=1, NAdam=0.3, RAdam=0.01,
                  AdaBelief=1, DiffGrad=1, Lion=0.1),
    "rosenbrock": dict(SGD=0.003, Momentum=0.003, Nesterov=0.001, Adagrad=1, Adadelta=1,
                       RMSprop=0.01, Adam=0.3, AMSGrad=0.3, Adamax=1, NAdam=0.03, RAdam=0.003,
                       AdaBelief=0.3, DiffGrad=1, Lion=0.003),
}


def make_optimizer(label: str, params, lr: float):
    """The optimizer behind a row label (Momentum and Nesterov are SGD with momentum 0.9)."""
    if label == "Momentum":
        return C.optimizer_class("SGD")(params, lr=lr, momentum=0.9)
    if label == "Nesterov":
        return C.optimizer_class("SGD")(params, lr=lr, momentum=0.9, nesterov=True)
    return C.optimizer_class(label)(params, lr=lr)


def run_path(label: str, surface: str, lr: float, steps: int, device: str) -> np.ndarray:
    """The (steps + 1, 2) positions of ``label`` minimising ``surface`` from its start."""
    fn, start, _, _, _, _ = SURFACES[surface]
    p = minigrad.Parameter(minigrad.tensor(start, dtype=minigrad.float64, device=device).array)
    opt = make_optimizer(label, [p], lr)
    path = np.empty((steps + 1, 2))
    path[0] = start
    for k in range(steps):
        opt.zero_grad()
        loss = fn(p[0], p[1])
        loss.backward()
        opt.step()
        path[k + 1] = p.detach().numpy()
        if not np.isfinite(path[k + 1]).all():  # diverged: keep the path up to here
            path[k + 1:] = np.nan
            break
    return path


def contours(surface: str, ax) -> None:
    """The surface's contour lines, its start (black dot) and minimum (red star)."""
    fn, start, minimum, _, (x0, x1, y0, y1), log = SURFACES[surface]
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    zs = fn(xs, ys)
    if log:
        levels = np.logspace(np.log10(max(zs.min(), 1e-3)), np.log10(zs.max()), 30)
        ax.contour(xs, ys, zs, levels=levels, cmap="Greys", linewidths=0.6)
    else:
        ax.contour(xs, ys, zs, levels=30, cmap="Greys", linewidths=0.6)
    ax.plot(*start, "ko", ms=5)
    ax.plot(*minimum, "r*", ms=12)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(surface)


def plot(surface: str, paths: dict[str, np.ndarray], ax) -> None:
    contours(surface, ax)
    colors = C.matplotlib.colormaps["tab20"].colors
    for (label, path), color in zip(paths.items(), colors):
        ax.plot(path[:, 0], path[:, 1], lw=1.2, color=color, label=label)


def animate(all_paths: dict[str, dict[str, np.ndarray]], out_dir: str, frames: int) -> str:
    """An animated GIF of the paths growing: frame i shows each surface's first i / frames of
    its steps, with a dot at each optimizer's current position."""
    fig, axes = C.figure(ncols=len(all_paths), size=(4.2, 3.8))
    colors = C.matplotlib.colormaps["tab20"].colors
    artists, titles = [], []
    for ax, (surface, paths) in zip(axes[0], all_paths.items()):
        contours(surface, ax)
        steps = len(next(iter(paths.values()))) - 1
        titles.append((ax, surface, steps))
        for (label, path), color in zip(paths.items(), colors):
            (line,) = ax.plot([], [], lw=1.2, color=color, label=label)
            (head,) = ax.plot([], [], "o", ms=4, color=color)
            artists.append((path, line, head))
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))

    def update(i):
        frac = (i + 1) / frames
        for path, line, head in artists:
            k = max(1, round(frac * (len(path) - 1))) + 1
            shown = path[:k][np.isfinite(path[:k]).all(axis=1)]
            line.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
        for ax, surface, steps in titles:
            ax.set_title(f"{surface}: step {max(1, round(frac * steps))} of {steps}")
        return []

    return C.save_animation(fig, update, frames, out_dir, "optimizer_paths.gif")


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "paths"))
    p.add_argument("--steps-scale", type=float, default=1.0,
                   help="multiply every surface's step budget (e.g. 0.1 for a quick look)")
    p.add_argument("--optimizers", nargs="*", default=list(OPTIMIZERS),
                   help="a subset of: " + " ".join(OPTIMIZERS))
    p.add_argument("--animate", action="store_true",
                   help="also write optimizer_paths.gif, the paths growing step by step")
    p.add_argument("--frames", type=int, default=60, help="frames of the animation")
    args = p.parse_args(argv)
    device = C.setup(args)

    distances: dict[str, dict[str, float]] = {o: {} for o in args.optimizers}
    all_paths: dict[str, dict[str, np.ndarray]] = {}
    fig, axes = C.figure(ncols=len(SURFACES), size=(5.2, 4.6))
    with C.Timer() as timer:
        for ax, surface in zip(axes[0], SURFACES):
            steps = max(1, round(SURFACES[surface][3] * args.steps_scale))
            paths = {}
            for label in args.optimizers:
                paths[label] = run_path(label, surface, LR[surface][label], steps, device)
                end = paths[label][-1]
                distances[label][surface] = (float(np.hypot(*(end - SURFACES[surface][2])))
                                             if np.isfinite(end).all() else math.inf)
            plot(surface, paths, ax)
            all_paths[surface] = paths
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    rows = [[o, *(distances[o][s] for s in SURFACES)] for o in args.optimizers]
    headers = ["optimizer", *(f"{s} ({round(SURFACES[s][3] * args.steps_scale)} steps)"
                              for s in SURFACES)]
    print("final distance to the minimum (lr per surface in examples/optimizer_paths.py)")
    print(C.table(rows, headers))
    print(f"time: {timer.seconds:.1f} s")
    figure = C.savefig(fig, args.out_dir, "optimizer_paths.png")
    gif = animate(all_paths, args.out_dir, args.frames) if args.animate else None
    return {"distances": distances, "figure": figure, "animation": gif}


if __name__ == "__main__":
    main()
