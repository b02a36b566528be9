"""Binary logistic regression with the core tensor API and autograd only (no nn, no optim).

python examples/logistic_regression.py --epochs 100
"""

import argparse

import _common  # noqa: F401  (sets sys.path for a source checkout)
import rustgrad as torch
from _common import plot_curves, progress, set_postfix


def make_data(n, d):
    """Two Gaussian blobs, labels 0/1."""
    y = (torch.rand(n) < 0.5).float()
    centers = (2 * y - 1).unsqueeze(1) * torch.ones(1, d)  # +-1 in every coordinate
    X = centers + torch.randn(n, d)
    return X, y


def main(argv=None):
    p = argparse.ArgumentParser(description="Logistic regression written with raw tensors and autograd.")
    p.add_argument("--epochs", type=int, default=100, help="full-batch gradient steps")
    p.add_argument("--batch-size", type=int, default=0, help="0 = full batch")
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--features", type=int, default=4)
    p.add_argument("--data", default=None, help="unused (synthetic data); kept for a uniform CLI")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="", help="write the loss curve to this PNG (needs matplotlib)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    X, y = make_data(args.samples, args.features)
    w = torch.zeros(args.features, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    bs = args.batch_size or args.samples

    def forward(x):
        # (x * w).sum(1) is x @ w, written elementwise to keep to the core ops
        return (x * w).sum(1) + b

    losses = []
    bar = progress(range(args.epochs), desc="logistic regression")
    for _ in bar:
        perm = torch.randperm(args.samples) if bs < args.samples else None
        for start in range(0, args.samples, bs):
            if perm is None:
                xb, yb = X, y
            else:
                idx = perm[start : start + bs]
                xb, yb = X[idx], y[idx]
            z = forward(xb)
            # numerically stable binary cross-entropy with logits
            loss = (z.clamp(min=0) - z * yb + (1 + (-z.abs()).exp()).log()).mean()
            loss.backward()
            with torch.no_grad():
                w -= args.lr * w.grad
                b -= args.lr * b.grad
            w.grad = None
            b.grad = None
        losses.append(loss.item())
        set_postfix(bar, loss=f"{losses[-1]:.4f}")

    with torch.no_grad():
        acc = ((forward(X) > 0).float() == y).float().mean().item()
    plot_curves(args.plot, {"train loss": losses})
    print(f"final loss: {losses[-1]:.4f}")
    print(f"final accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
