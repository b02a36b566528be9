"""Softmax (multinomial logistic) regression on Fashion-MNIST: one nn.Linear + cross-entropy.

python examples/softmax_regression.py --epochs 3
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


def main(argv=None):
    p = argparse.ArgumentParser(description="Softmax regression on Fashion-MNIST.")
    add_common_args(p, epochs=3, batch_size=256, lr=0.1)
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda x: x.reshape(-1))])
    train_set, test_set = image_datasets(args, tf, tf)
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers
    )
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, num_workers=args.num_workers)

    model = nn.Linear(28 * 28, 10).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    history = {"train loss": [], "test accuracy": []}
    for epoch in range(1, args.epochs + 1):
        model.train()
        bar = progress(train_loader, desc=f"epoch {epoch}/{args.epochs}")
        total, n = 0.0, 0
        for x, y in bar:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total += loss.item() * y.shape[0]
            n += y.shape[0]
            set_postfix(bar, loss=f"{loss.item():.4f}")
        _, acc = evaluate(model, test_loader, lambda o, t: F.cross_entropy(o, t, reduction="sum"), device)
        history["train loss"].append(total / n)
        history["test accuracy"].append(acc)
        print(f"epoch {epoch}: train loss {total / n:.4f}, test accuracy {acc:.4f}")
    plot_curves(args.plot, history)
    print(f"final test accuracy: {history['test accuracy'][-1]:.4f}")
    return history["test accuracy"][-1]


if __name__ == "__main__":
    main()
