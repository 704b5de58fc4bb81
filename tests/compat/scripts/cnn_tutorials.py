"""The CNNs of two PyTorch tutorials, with only the imports changed: the 60-minute blitz's
LeNet (Conv2d, F.max_pool2d, torch.flatten, out.backward(grad), SGD on an MSE target) and the
CNN of "What is torch.nn really?" (strided Conv2d, F.avg_pool2d, view, then the nn.Sequential
form with AdaptiveAvgPool2d), trained on synthetic 28x28 images whose class is where a bright
square sits."""

import minigrad as torch
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim as optim

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        return self.fc3(f6)


net = Net()
params = list(net.parameters())
assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)
input = torch.randn(1, 1, 32, 32)
out = net(input)
assert out.shape == (1, 10)
net.zero_grad()
out.backward(torch.randn(1, 10))
assert all(p.grad is not None and p.grad.shape == p.shape for p in params)

target = torch.randn(10).view(1, -1)
criterion = nn.MSELoss()
optimizer = optim.SGD(net.parameters(), lr=0.01)
first = criterion(net(input), target).item()
for _ in range(100):
    optimizer.zero_grad()
    loss = criterion(net(input), target)
    loss.backward()
    optimizer.step()
last = loss.item()
assert last < 0.2 * first, (first, last)


def blobs(n):
    """28x28 images of noise with a bright 6x6 square in one of 4 quadrants (the class)."""
    y = torch.randint(0, 4, (n,))
    x = 0.3 * torch.randn(n, 784)
    img = x.view(n, 28, 28)
    with torch.no_grad():
        for i in range(n):
            r, c = divmod(int(y[i]), 2)
            img[i, 4 + 14 * r:10 + 14 * r, 4 + 14 * c:10 + 14 * c] += 2.0
    return x, y


class Mnist_CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.conv1(xb))
        xb = F.relu(self.conv2(xb))
        xb = F.relu(self.conv3(xb))
        xb = F.avg_pool2d(xb, 4)
        return xb.view(-1, xb.size(1))


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


x_train, y_train = blobs(256)
x_valid, y_valid = blobs(128)
sequential = nn.Sequential(
    Lambda(lambda x: x.view(-1, 1, 28, 28)),
    nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    Lambda(lambda x: x.view(x.size(0), -1)),
)
accuracies = []
for model in (Mnist_CNN(), sequential):
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _epoch in range(8):
        model.train()
        for i in range(0, 256, 32):
            loss = F.cross_entropy(model(x_train[i:i + 32]), y_train[i:i + 32])
            loss.backward()
            opt.step()
            opt.zero_grad()
    model.eval()
    with torch.no_grad():
        preds = torch.argmax(model(x_valid), dim=1)
    accuracies.append((preds == y_valid).float().mean().item())
assert min(accuracies) > 0.9, accuracies
print(f"cnn_tutorials: LeNet loss {first:.3f} -> {last:.3f}; quadrant accuracy "
      f"{accuracies[0]:.3f} (class), {accuracies[1]:.3f} (Sequential)")
