"""Fit y = 1 - 2x + 3x^2 (plus noise) with three scalar tensors and plain gradient descent.

Written in torch style: only the import line differs (was ``import torch``).
"""

import numpy as np

import minigrad as torch

torch.manual_seed(0)
x = torch.linspace(-1, 1, 200)
y = 1 - 2 * x + 3 * x.pow(2) + 0.05 * torch.randn(200)

a = torch.randn((), requires_grad=True)
b = torch.randn((), requires_grad=True)
c = torch.randn((), requires_grad=True)

lr = 0.4
for _step in range(3000):
    y_pred = a + b * x + c * x ** 2
    loss = (y_pred - y).pow(2).mean()
    loss.backward()
    with torch.no_grad():
        a -= lr * a.grad
        b -= lr * b.grad
        c -= lr * c.grad
        a.grad = None
        b.grad = None
        c.grad.zero_()
        c.grad = None

# the least-squares solution, from NumPy, is where gradient descent must have landed
c2, c1, c0 = np.polyfit(x.numpy().astype(np.float64), y.numpy().astype(np.float64), 2)
fitted = np.array([a.item(), b.item(), c.item()])
assert np.allclose(fitted, [c0, c1, c2], atol=2e-3), (fitted, [c0, c1, c2])
print(f"poly_fit: y = {a.item():.3f} + {b.item():.3f} x + {c.item():.3f} x^2")
