"""Three-class classification of Gaussian blobs with nn.Sequential, CrossEntropyLoss and Adam,
counting correct predictions with max(dim)[1] as torch code does. Only the imports differ."""

import minigrad as torch
import minigrad.nn as nn
import minigrad.optim as optim

torch.manual_seed(3)
centres = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
labels = torch.randint(0, 3, (600,))
points = centres[labels] + torch.randn(600, 2)

model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=1e-2)

for _epoch in range(30):
    for i in range(0, 600, 50):
        xb, yb = points[i:i + 50], labels[i:i + 50]
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()

model.eval()
with torch.no_grad():
    out = model(points)
    _, predicted = torch.max(out, 1)
    correct = (predicted == labels).sum().item()
    assert torch.equal(predicted, out.max(1)[1])
    assert (out.max(dim=1).indices == out.argmax(dim=1)).all()
    values = out.max(1).values
    assert (values == out.max(1)[0]).all() and values.shape == (600,)
accuracy = correct / labels.size(0)
assert accuracy > 0.95, accuracy
print(f"classify: accuracy {accuracy:.3f}")
