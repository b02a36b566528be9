"""One epoch of the classic PyTorch MNIST CNN on Fashion-MNIST, in rustgrad or PyTorch.

The training code is the same for both libraries: only the module bound to ``torch`` changes,
which is how users are expected to try rustgrad. Data comes from Debian's dataset package through
rustgrad.vision (read once into NumPy, then wrapped by each library's own TensorDataset and
DataLoader). Prints wall time for the epoch and test accuracy.

    python benchmarks/cnn_epoch.py --lib rustgrad
    python benchmarks/cnn_epoch.py --lib torch
"""

import argparse
import importlib
import time

import numpy as np


def load(root):
    from rustgrad.vision import datasets

    out = []
    for train in (True, False):
        ds = datasets.FashionMNIST(root, train=train)
        x = ds.data.numpy().astype(np.float32)[:, None] / 255.0
        x = (x - 0.2860) / 0.3530
        out.append((x, ds.targets.numpy().astype(np.int64)))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lib", default="rustgrad", choices=["rustgrad", "torch"])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    torch = importlib.import_module(args.lib)
    nn = torch.nn
    F = torch.nn.functional
    from_numpy = torch.from_numpy
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    (xtr, ytr), (xte, yte) = load(args.data)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(from_numpy(xtr), from_numpy(ytr)), batch_size=64, shuffle=True
    )
    t0 = time.perf_counter()
    model.train()
    for data, target in loader:
        opt.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            out = model(from_numpy(xte[i:i + 1000]))
            correct += int((out.argmax(dim=1) == from_numpy(yte[i:i + 1000])).sum().item())
    print(f"{args.lib}: epoch wall time {train_s:.1f} s, test accuracy {correct / len(xte):.4f}")


if __name__ == "__main__":
    main()
