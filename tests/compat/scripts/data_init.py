"""Weight initialisation through .data, as older torch code does it. Only the imports differ."""

import minigrad as torch
import minigrad.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        m.weight.data.normal_(0.0, 0.02)
        m.bias.data.fill_(0.0)
    elif isinstance(m, nn.LayerNorm):
        m.weight.data.fill_(1.0)
        m.bias.data.zero_()


torch.manual_seed(4)
model = nn.Sequential(nn.Linear(50, 400), nn.LayerNorm(400), nn.Tanh(), nn.Linear(400, 2))
model.apply(init_weights)
w = model[0].weight
assert abs(w.data.mean().item()) < 0.002 and abs(w.data.std().item() - 0.02) < 0.001
assert (model[0].bias.data == 0).all() and (model[1].bias == 0).all()
assert w.grad_fn is None and w.requires_grad and w.is_leaf  # nothing recorded

# in-place arithmetic through .data changes the parameter and records nothing
before = w.data.clone()
w.data.mul_(2.0).add_(1.0).sub_(0.5).clamp_(-1, 1)
assert ((w - (before * 2 + 0.5).clamp(-1, 1)).abs().max().item()) < 1e-7
model[3].weight.data.uniform_(-0.1, 0.1)
model[3].weight.data.copy_(model[3].weight.data * 0.5)
assert model[3].weight.data.abs().max().item() <= 0.05 + 1e-7
arr = model[3].bias.data.numpy()  # .data is outside the graph: numpy() works directly
assert arr.shape == (2,)

# replacing the storage: p.data = t
model[3].bias.data = torch.tensor([0.25, -0.25])
assert model[3].bias.tolist() == [0.25, -0.25] and model[3].bias.requires_grad

out = model(torch.randn(8, 50)).sum()
out.backward()
assert model[0].weight.grad.shape == (400, 50)
print("data_init: ok")
