"""See what training does: the backward graph, the learning-rate range test, and per-layer
diagnostics of a badly and a well initialised network.

1. Graphs (``minigrad.viz.make_dot``): a small MLP's backward graph with its parameter names,
   the same graph boxed by module, and a double-backward graph: the graph that
   ``grad(f, x, create_graph=True)`` records, through which a gradient of the gradient flows.
2. The learning-rate range test (``minigrad.train.lr_find``) on the digits: the loss against
   a growing rate, the suggestions, then three trainings from the same start: the suggested
   rate, ten times less and ten times more.
3. Initialisation (``minigrad.train.Diagnostics``): an 8-layer ReLU MLP (width 64) trained
   with SGD from weights N(0, 0.1^2) and biases -0.02: each layer scales the activations by
   about 0.1 * sqrt(64 / 2) = 0.57, so they shrink with depth until the small negative bias
   wins: the deep layers' ReLUs are dead (never positive on a batch; 86% in the last one) and
   the updates are about 1e-5 of the weights, far below the healthy 1e-3; beside it the same
   network with He initialisation (He et al. 2015) and zero biases, where every layer keeps
   unit-scale activations. Then tanh with N(0, 1) weights (saturated units, whose gradient
   vanishes) beside Xavier (Glorot & Bengio 2010).

Usage::

    python3 examples/see_training.py                    # ~30 s; writes runs/see_training/*
    python3 examples/see_training.py --out-dir docs/images/see_training   # the docs' pictures

The graph pictures need Graphviz (``pip install 'minigrad-tensor[viz]'`` and the ``dot`` program);
without it the DOT text is written instead (``*.dot``) and the script says so.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Sequence

import _common as C

import minigrad
from minigrad import nn, optim
from minigrad.autograd import grad
from minigrad.train import Diagnostics, fit, lr_find
from minigrad.viz import make_dot, trace_modules


def _render(dot, out_dir: str, name: str) -> str:
    """``name.png`` when Graphviz is there, else the DOT text as ``name.dot``."""
    try:
        import graphviz  # noqa: F401, PLC0415
    except ImportError:
        graphviz = None
    if graphviz is None or shutil.which("dot") is None:
        path = os.path.join(out_dir, f"{name}.dot")
        with open(path, "w") as f:
            f.write(dot.source)
        print(f"saved {path} (Graphviz not installed: pip install 'minigrad-tensor[viz]' and "
              "the dot program, for the picture)")
        return path
    path = dot.render(os.path.join(out_dir, f"{name}.png"))
    print(f"saved {path}")
    return path


def graphs(out_dir: str, device: str) -> dict[str, str]:
    """The MLP's graph (plain and by module) and a double-backward graph."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    x = minigrad.randn(5, 4, device=device)
    y = minigrad.tensor([0, 2, 1, 1, 0], device=device)
    with trace_modules(model) as trace:
        loss = nn.CrossEntropyLoss()(model(x), y)
    params = dict(model.named_parameters())
    out = {"mlp_graph": _render(make_dot(loss, params=params), out_dir, "mlp_graph"),
           "mlp_graph_modules": _render(make_dot(loss, params=params, show_saved=True,
                                                 group_by_module=trace),
                                        out_dir, "mlp_graph_modules")}
    # f(x) = sum(tanh(w * x)); df/dx = w * (1 - tanh(w x)^2), recorded as a graph of its own
    xs = minigrad.randn(3, requires_grad=True, device=device)
    w = minigrad.randn(3, requires_grad=True, device=device)
    (dfdx,) = grad((w * xs).tanh().sum(), [xs], create_graph=True)
    out["double_backward"] = _render(make_dot(dfdx, params={"x": xs, "w": w}), out_dir,
                                     "double_backward")
    return out


def lr_range(args, device: str, out_dir: str) -> dict:
    """lr_find on the digits, then training at the suggestion, x0.1 and x10."""
    data = _digits(args)
    train = C.loader(data["train"], 64, device, shuffle=True)
    test = C.loader(data["test"], 512, device)
    minigrad.manual_seed(args.seed)
    model = C.mlp([64, 128, 10]).to(device)
    start = {k: v.array.copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    result = lr_find(model, nn.CrossEntropyLoss(), opt, train, start_lr=1e-5, end_lr=10,
                     num_iter=args.lr_iters)
    lr = result.lr_min if math.isfinite(result.lr_min) else 0.1
    stop = "on divergence" if result.diverged else "at end_lr"
    print(f"lr_find: {len(result.lrs)} batches, stopped {stop} at lr {result.lrs[-1]:.3g}; "
          f"steepest {result.lr_steep:.3g}, minimum/10 {result.lr_min:.3g}")
    fig, axes = C.figure(ncols=2, size=(5.2, 3.8))
    result.plot(ax=axes[0][0])
    runs = {}
    for label, rate in ((f"suggested {lr:.2g}", lr), (f"x0.1: {lr / 10:.2g}", lr / 10),
                        (f"x10: {lr * 10:.2g}", lr * 10)):
        model.load_state_dict(start)
        minigrad.manual_seed(args.seed)
        opt = optim.SGD(model.parameters(), lr=rate, momentum=0.9)
        hist = fit(model, nn.CrossEntropyLoss(), opt, train, epochs=args.epochs, val_loader=test,
                   progress=False, nan_policy="stop")
        acc = hist["val_accuracy"][-1] if "val_accuracy" in hist else math.nan
        runs[label] = {"lr": rate, "loss": hist["loss"], "test_accuracy": acc}
        axes[0][1].plot(hist.epochs, hist["loss"], marker="o", ms=3, label=label)
    axes[0][1].set_yscale("log")
    axes[0][1].set_xlabel("epoch")
    axes[0][1].set_ylabel("training loss")
    axes[0][1].set_title("SGD (momentum 0.9) at the suggested rate")
    axes[0][1].legend()
    print(C.table([[k, v["lr"], v["loss"][-1], v["test_accuracy"]] for k, v in runs.items()],
                  ["run", "lr", "final train loss", "test accuracy"]))
    return {"result": result, "runs": runs, "figure": C.savefig(fig, out_dir, "lr_find.png")}


def _digits(args) -> dict:
    """The digits splits, the training split cut to ``--max-rows`` rows if given."""
    data = C.digits_splits(seed=args.seed)
    if args.max_rows:
        x, y = data["train"]
        data["train"] = (x[:args.max_rows], y[:args.max_rows])
    return data


def _deep(act: type, init: str, depth: int, width: int, device: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    sizes = [64] + [width] * depth
    for n_in, n_out in zip(sizes, sizes[1:]):
        lin = nn.Linear(n_in, n_out)
        if init == "small":  # the bad start: weights too small for the fan-in, biases < 0
            nn.init.normal_(lin.weight, std=0.1)
            nn.init.constant_(lin.bias, -0.02)
        elif init == "large":
            nn.init.normal_(lin.weight, std=1.0)
            nn.init.zeros_(lin.bias)
        elif init == "he":
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        else:  # xavier
            nn.init.xavier_normal_(lin.weight, gain=nn.init.calculate_gain("tanh"))
            nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers).to(device)


def init_lesson(args, device: str, out_dir: str) -> dict:
    """The same deep MLP from a bad and a good start, with Diagnostics on both."""
    data = _digits(args)
    train = C.loader(data["train"], 64, device, shuffle=True)
    test = C.loader(data["test"], 512, device)
    cases = {"relu_small_init": (nn.ReLU, "small"), "relu_he_init": (nn.ReLU, "he"),
             "tanh_large_init": (nn.Tanh, "large"), "tanh_xavier_init": (nn.Tanh, "xavier")}
    out, rows = {}, []
    for name, (act, init) in cases.items():
        minigrad.manual_seed(args.seed)
        model = _deep(act, init, args.depth, 64, device)
        diag = Diagnostics(every=args.diag_every)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        hist = fit(model, nn.CrossEntropyLoss(), opt, train, epochs=args.epochs,
                   val_loader=test, callbacks=[diag], progress=False, nan_policy="stop")
        path = os.path.join(out_dir, f"diagnostics_{name}.png")
        diag.plot(path)
        print(f"saved {path}")
        rec = diag.records
        first = {k: v[0] for k, v in rec.items()}
        ratios = [first[k] for k in first if k.endswith("weight/update_ratio")]
        dead = [first[k] for k in first if k.endswith("dead_frac")]
        sat = [first[k] for k in first if k.endswith("saturated_frac")]
        rows.append([name, min(ratios), max(ratios), max(dead) if dead else math.nan,
                     max(sat) if sat else math.nan,
                     hist["val_accuracy"][-1] if "val_accuracy" in hist else math.nan])
        out[name] = {"figure": path, "records": rec, "test_accuracy": rows[-1][-1]}
    print("first measured step: weight update ratios (min, max over layers), the worst layer's "
          "dead ReLUs and saturated tanh, and the final test accuracy")
    print(C.table(rows, ["network", "min ratio", "max ratio", "dead", "saturated",
                         "test acc"]))
    out["comparison"] = _compare(out, out_dir)
    return out


def _compare(out: dict, out_dir: str) -> str:
    """Per layer at the first measured step: activation std and weight update ratio."""
    fig, axes = C.figure(ncols=2, size=(5.0, 3.6))
    for name, case in out.items():
        rec = case["records"]
        acts = [k for k in rec if k.endswith("/act_std") and _is_activation(k, rec)]
        ratios = [k for k in rec if k.endswith("weight/update_ratio")]
        axes[0][0].plot(range(1, len(acts) + 1), [rec[k][0] for k in acts], marker="o",
                        label=name)
        axes[0][1].plot(range(1, len(ratios) + 1), [rec[k][0] for k in ratios], marker="o",
                        label=name)
    axes[0][0].set_title("activation std after each nonlinearity")
    axes[0][1].set_title("||update|| / ||weight|| per Linear")
    axes[0][1].axhline(1e-3, color="gray", ls="--", lw=0.8)
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return C.savefig(fig, out_dir, "init_comparison.png")


def _is_activation(key: str, rec: dict) -> bool:
    layer = key[5:].rsplit("/", 1)[0]
    return f"diag/{layer}/dead_frac" in rec or f"diag/{layer}/saturated_frac" in rec


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "see_training"),
                      epochs=8)
    p.add_argument("--lr-iters", type=int, default=100, help="lr_find's num_iter")
    p.add_argument("--depth", type=int, default=8, help="hidden layers of the init lesson")
    p.add_argument("--diag-every", type=int, default=20, help="Diagnostics(every=...)")
    p.add_argument("--max-rows", type=int, default=0,
                   help="train on the first rows only (0: all 1222); for quick runs")
    args = p.parse_args(argv)
    device = C.setup(args)
    with C.Timer() as timer:
        pictures = graphs(args.out_dir, device)
        lr = lr_range(args, device, args.out_dir)
        init = init_lesson(args, device, args.out_dir)
    print(f"time: {timer.seconds:.1f} s")
    pictures["lr_find"] = lr["figure"]
    pictures.update({f"diagnostics_{k}": v["figure"] for k, v in init.items()
                     if k != "comparison"})
    pictures["init_comparison"] = init["comparison"]
    return {"pictures": pictures, "lr_find": lr, "init": init}


if __name__ == "__main__":
    main()
