"""A custom autograd.Function in ctx form (a clipped cube with a hand-written derivative),
checked against finite differences and used inside a model. Only the imports differ."""

import minigrad as torch
import minigrad.nn as nn


class ClippedCube(torch.autograd.Function):
    """y = clamp(x, -lim, lim)^3;  dy/dx = 3 x^2 inside [-lim, lim], 0 outside."""

    @staticmethod
    def forward(ctx, x, lim):
        ctx.save_for_backward(x)
        ctx.lim = lim
        return x.clamp(-lim, lim) ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        inside = ((x >= -ctx.lim) & (x <= ctx.lim)).to(x.dtype)
        return grad_output * 3 * x ** 2 * inside, None


x = torch.randn(6, dtype=torch.double, requires_grad=True)
with torch.no_grad():
    x.mul_(0.5)  # away from the kinks at +-2, where finite differences are meaningless
assert torch.autograd.gradcheck(lambda t: ClippedCube.apply(t, 2.0), (x,))
assert torch.autograd.gradgradcheck(lambda t: ClippedCube.apply(t, 2.0), (x,))

y = ClippedCube.apply(x, 2.0)
y.sum().backward()
assert torch.allclose(x.grad, 3 * x.detach() ** 2)


class CubeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def forward(self, x):
        return ClippedCube.apply(self.lin(x), 3.0)


torch.manual_seed(2)
net = CubeNet()
X = torch.randn(64, 2)
Y = (0.5 * X[:, :1] - 0.3 * X[:, 1:]) ** 3
opt = torch.optim.Adam(net.parameters(), lr=0.05)
for _ in range(300):
    opt.zero_grad()
    loss = ((net(X) - Y) ** 2).mean()
    loss.backward()
    opt.step()
assert loss.item() < 1e-3, loss.item()
print(f"custom_function: {type(y.grad_fn).__name__ if y.grad_fn else None}, loss {loss.item():.2e}")
