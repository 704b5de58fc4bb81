"""Gradients of gradients: Hessian-vector products and Newton-CG against gradient descent.

Problem: L2-regularised logistic regression on scikit-learn's bundled breast-cancer data
(569 x 30, standardised, labels y in {-1, +1})::

    L(w, b) = mean_i log(1 + exp(-y_i (x_i . w + b))) + lam / 2 ||w||^2

* Hessian-vector product without forming the Hessian (Pearlmutter, 1994): with
  ``g = grad(L, w, create_graph=True)``, ``H v = grad(g . v, w)``. It is checked against the
  closed form ``H = X^T diag(s (1 - s)) X / n + lam I`` (s = sigmoid(y z)) and against central
  differences of the gradient.
* Newton-CG (Nocedal & Wright, "Numerical Optimization", 2006, algorithm 7.1): each outer step
  solves ``H d = -g`` approximately with conjugate gradients, using only Hessian-vector products,
  then takes ``theta <- theta + t d`` with a backtracking (Armijo) line search.
* Gradient descent with step 1 / L_smooth (L_smooth = lambda_max(X^T X) / (4 n) + lam), the
  textbook safe step, for the same number of outer iterations and for many more.

Usage::

    python3 examples/second_order.py                     # ~3 s; writes runs/second_order/*.png
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import _common as C
import numpy as np

import minigrad
from minigrad.autograd import grad

LAM = 1e-2


def load_problem(device: str):
    """(X with a column of ones, y in {-1, +1}) as float64 tensors; the bias is the last weight."""
    from sklearn.datasets import load_breast_cancer  # noqa: PLC0415

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x = np.hstack([x, np.ones((len(x), 1))])
    return (minigrad.tensor(x, dtype=minigrad.float64, device=device),
            minigrad.tensor(2.0 * y - 1.0, dtype=minigrad.float64, device=device))


def loss_fn(theta, x, y):
    """Mean logistic loss plus lam/2 ||w||^2 (the bias, theta's last entry, is not penalised)."""
    margins = (x @ theta) * y
    w = theta[:-1]
    return minigrad.softplus(-margins).mean() + 0.5 * LAM * (w * w).sum()


def hvp(theta, v, x, y):
    """H(theta) v by double backward; also returns the gradient and the loss."""
    loss = loss_fn(theta, x, y)
    (g,) = grad(loss, [theta], create_graph=True)
    (hv,) = grad((g * v).sum(), [theta])
    return hv, g.detach(), loss.item()


def closed_form_hessian(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    s = 1.0 / (1.0 + np.exp(-y * (x @ theta)))
    h = x.T @ (x * (s * (1 - s))[:, None]) / len(y)
    reg = np.full(len(theta), LAM)
    reg[-1] = 0.0
    return h + np.diag(reg)


def check_hvp(x, y, device: str) -> dict[str, float]:
    """Relative errors of the double-backward H v against the closed form and finite differences."""
    rng = np.random.default_rng(0)
    theta = minigrad.tensor(0.1 * rng.standard_normal(x.shape[1]), dtype=minigrad.float64,
                            device=device, requires_grad=True)
    v_np = rng.standard_normal(x.shape[1])
    v = minigrad.tensor(v_np, dtype=minigrad.float64, device=device)
    hv = hvp(theta, v, x, y)[0].numpy()
    exact = closed_form_hessian(theta.detach().numpy(), x.numpy(), y.numpy()) @ v_np

    def gradient_at(t_np):
        t = minigrad.tensor(t_np, dtype=minigrad.float64, device=device, requires_grad=True)
        return grad(loss_fn(t, x, y), [t])[0].numpy()

    eps, t0 = 1e-5, theta.detach().numpy()
    fd = (gradient_at(t0 + eps * v_np) - gradient_at(t0 - eps * v_np)) / (2 * eps)
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))  # noqa: E731
    return {"vs_closed_form": rel(hv, exact), "vs_finite_differences": rel(hv, fd)}


def newton_cg(x, y, iters: int, device: str, cg_iters: int = 20):
    """Newton-CG from theta = 0; per outer step: (loss, gradient norm, HVPs used)."""
    theta = minigrad.zeros(x.shape[1], dtype=minigrad.float64, device=device,
                           requires_grad=True)
    log = []
    hvps = 0
    for _ in range(iters):
        loss = loss_fn(theta, x, y)
        (g,) = grad(loss, [theta], create_graph=True)
        g_data = g.detach()
        gnorm = float(np.sqrt((g_data * g_data).sum().item()))
        log.append((loss.item(), gnorm, hvps))
        # conjugate gradients on H d = -g, from d = 0 (Nocedal & Wright, algorithm 5.2)
        d = minigrad.zeros_like(g_data)
        r = -g_data
        p = r
        rr = (r * r).sum().item()
        tol = min(0.5, gnorm ** 0.5) * gnorm          # the "forcing sequence" of algorithm 7.1
        for _ in range(cg_iters):
            (hp,) = grad((g * p).sum(), [theta], retain_graph=True)
            hvps += 1
            alpha = rr / (p * hp).sum().item()
            d = d + alpha * p
            r = r - alpha * hp
            rr_new = (r * r).sum().item()
            if rr_new ** 0.5 < tol:
                break
            p = r + (rr_new / rr) * p
            rr = rr_new
        # backtracking line search: the largest t in {1, 1/2, ...} with sufficient decrease
        slope = (g_data * d).sum().item()
        t, f0 = 1.0, loss.item()
        with minigrad.no_grad():
            while loss_fn(theta + t * d, x, y).item() > f0 + 1e-4 * t * slope and t > 1e-8:
                t /= 2
            theta.add_(t * d)
    loss = loss_fn(theta, x, y)
    (g,) = grad(loss, [theta])
    log.append((loss.item(), float(np.sqrt((g * g).sum().item())), hvps))
    return theta, log


def gradient_descent(x, y, iters: int, device: str):
    """GD with step 1 / L_smooth from theta = 0; per step: (loss, gradient norm)."""
    x_np = x.numpy()
    smooth = np.linalg.eigvalsh(x_np.T @ x_np / len(x_np)).max() / 4 + LAM
    theta = minigrad.zeros(x.shape[1], dtype=minigrad.float64, device=device,
                           requires_grad=True)
    opt = C.optimizer_class("SGD")([theta], lr=1.0 / smooth)
    log = []
    for _ in range(iters):
        opt.zero_grad()
        loss = loss_fn(theta, x, y)
        loss.backward()
        log.append((loss.item(), float(np.linalg.norm(theta.grad.numpy()))))
        opt.step()
    loss = loss_fn(theta, x, y)
    (g,) = grad(loss, [theta])
    log.append((loss.item(), float(np.linalg.norm(g.numpy()))))
    return log, 1.0 / smooth


def main(argv: Sequence[str] | None = None) -> dict:
    p = C.base_parser(__doc__.splitlines()[0], out_dir=os.path.join("runs", "second_order"))
    p.add_argument("--newton-steps", type=int, default=8)
    p.add_argument("--gd-steps", type=int, default=2000)
    args = p.parse_args(argv)
    device = C.setup(args)
    x, y = load_problem(device)

    errors = check_hvp(x, y, device)
    print(f"Hessian-vector product by double backward, relative error vs the closed-form "
          f"Hessian: {errors['vs_closed_form']:.2e}, vs central differences of the gradient: "
          f"{errors['vs_finite_differences']:.2e}")

    with C.Timer() as t_newton:
        _, newton = newton_cg(x, y, args.newton_steps, device)
    with C.Timer() as t_gd:
        gd, step = gradient_descent(x, y, args.gd_steps, device)
    best = min(newton[-1][0], gd[-1][0])
    rows = []
    for k in range(args.newton_steps + 1):
        rows.append([k, newton[k][0] - best, newton[k][1], newton[k][2], gd[k][0] - best,
                     gd[k][1]])
    print(f"logistic regression on breast cancer (569 x 30 + bias, lam={LAM}); "
          f"L* ~ {best:.10f}; GD step 1/L_smooth = {step:.3f}")
    print(C.table(rows, ["iter", "Newton-CG L - L*", "|grad|", "HVPs so far",
                         "GD L - L*", "GD |grad|"]))
    print(f"GD after {args.gd_steps} steps: L - L* = {gd[-1][0] - best:.3e}, |grad| = "
          f"{gd[-1][1]:.3e}  ({t_gd.seconds:.2f} s; Newton-CG {args.newton_steps} steps: "
          f"{t_newton.seconds:.2f} s)")

    fig, axes = C.figure(ncols=2, size=(5.0, 4.0))
    ax = axes[0][0]
    ax.semilogy([r[1] for r in newton], "o-", label="Newton-CG")
    ax.semilogy([r[1] for r in gd[: args.newton_steps + 1]], "s-", label="GD (1/L)")
    ax.set_xlabel("outer iteration")
    ax.set_ylabel("|gradient|")
    ax.set_title("per iteration")
    ax.legend()
    ax = axes[0][1]
    work_newton = [k + r[2] for k, r in enumerate(newton)]     # gradients + HVPs
    ax.semilogy(work_newton, [r[1] for r in newton], "o-", label="Newton-CG")
    ax.semilogy(range(len(gd)), [r[1] for r in gd], "-", label="GD (1/L)")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("gradient + Hessian-vector evaluations")
    ax.set_title("per unit of work")
    ax.legend()
    figure = C.savefig(fig, args.out_dir, "second_order.png")
    return {"hvp_errors": errors, "newton": newton, "gd": gd, "figure": figure}


if __name__ == "__main__":
    main()
