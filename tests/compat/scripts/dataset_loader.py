"""A Dataset subclass read by a DataLoader with two workers, which must give the very batches
of the single-threaded loader; then a short regression. Only the imports differ."""

from minigrad.utils.data import DataLoader, Dataset

import minigrad as torch
import minigrad.nn as nn


class Noisy(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(5)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.01 * torch.randn(n, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


data = Noisy(300)
torch.manual_seed(6)
single = [(xb.numpy().copy(), yb.numpy().copy())
          for xb, yb in DataLoader(data, batch_size=32, shuffle=True)]
torch.manual_seed(6)
threaded = [(xb.numpy().copy(), yb.numpy().copy())
            for xb, yb in DataLoader(data, batch_size=32, shuffle=True, num_workers=2,
                                     pin_memory=True, persistent_workers=False)]
assert len(single) == len(threaded) == 10
assert all((a == c).all() and (b == d).all() for (a, b), (c, d) in zip(single, threaded))

model = nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loader = DataLoader(data, batch_size=32, shuffle=True, num_workers=2, persistent_workers=True)
for _epoch in range(20):
    for xb, yb in loader:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(xb).squeeze(1), yb)
        loss.backward()
        opt.step()
assert loss.item() < 1e-3, loss.item()
print(f"dataset_loader: loss {loss.item():.2e}")
