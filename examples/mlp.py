"""A 784-128-10 multilayer perceptron on Fashion-MNIST.

python examples/mlp.py --epochs 3
"""

import argparse

import _common  # noqa: F401  (sets sys.path for a source checkout)
import rustgrad as torch
import rustgrad.nn.functional as F
from _common import (
    add_common_args,
    evaluate,
    image_datasets,
    plot_curves,
    progress,
    resolve_device,
    set_postfix,
)
from rustgrad import nn
from rustgrad.utils.data import DataLoader
from rustgrad.vision import transforms


class MLP(nn.Module):
    def __init__(self, hidden=128):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.flatten(x))))


def main(argv=None):
    p = argparse.ArgumentParser(description="784-128-10 MLP on Fashion-MNIST.")
    add_common_args(p, epochs=3, batch_size=128, lr=0.05)
    p.add_argument("--hidden", type=int, default=128)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_set, test_set = image_datasets(args, tf, tf)
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers
    )
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, num_workers=args.num_workers)

    model = MLP(args.hidden).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    history = {"train loss": [], "test accuracy": []}
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, n = 0.0, 0
        bar = progress(train_loader, desc=f"epoch {epoch}/{args.epochs}")
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * y.shape[0]
            n += y.shape[0]
            set_postfix(bar, loss=f"{loss.item():.4f}")
        test_loss, acc = evaluate(model, test_loader, lambda o, t: F.cross_entropy(o, t, reduction="sum"), device)
        history["train loss"].append(total / n)
        history["test accuracy"].append(acc)
        print(
            f"epoch {epoch}: train loss {total / n:.4f}, test loss {test_loss:.4f}, test accuracy {acc:.4f}"
        )
    plot_curves(args.plot, history)
    print(f"final test accuracy: {history['test accuracy'][-1]:.4f}")
    return history["test accuracy"][-1]


if __name__ == "__main__":
    main()
