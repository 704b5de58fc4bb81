"""An nn.Module subclass holding nn.Parameter's, in the old torch style (Tensor(out, in) plus
reset_parameters), trained with SGD. Only the import lines differ from torch."""

import math

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim


class Affine(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(out_features, in_features))
        self.bias = nn.Parameter(torch.Tensor(out_features))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-bound, bound)
        self.bias.data.uniform_(-bound, bound)

    def forward(self, x):
        return x.mm(self.weight.t()) + self.bias


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = Affine(3, 16)
        self.out = Affine(16, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


torch.manual_seed(1)
net = TwoLayer()
names = [n for n, _ in net.named_parameters()]
assert names == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], names
assert sum(p.numel() for p in net.parameters()) == 3 * 16 + 16 + 16 + 1
assert net.hidden.weight.size() == (16, 3) and net.hidden.weight.dtype == torch.float32

X = torch.randn(256, 3)
Y = (X[:, 0] * X[:, 1] - X[:, 2]).unsqueeze(1)
opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
first = None
for _epoch in range(300):
    opt.zero_grad()
    loss = F.mse_loss(net(X), Y)
    loss.backward()
    opt.step()
    first = first if first is not None else loss.item()
assert loss.item() < 0.1 * first, (first, loss.item())
print(f"module_subclass: loss {first:.3f} -> {loss.item():.4f}")
