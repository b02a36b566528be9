"""Linear regression on synthetic data: nn.Linear + MSELoss + SGD.

python examples/linear_regression.py --epochs 20
"""

import argparse

import _common  # noqa: F401  (sets sys.path for a source checkout)
import rustgrad as torch
from _common import plot_curves, progress, set_postfix
from rustgrad import nn
from rustgrad.utils.data import DataLoader, TensorDataset


def main(argv=None):
    p = argparse.ArgumentParser(description="Fit y = X w + b + noise with nn.Linear and SGD.")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--samples", type=int, default=1024, help="number of synthetic samples")
    p.add_argument("--features", type=int, default=5)
    p.add_argument("--data", default=None, help="unused (synthetic data); kept for a uniform CLI")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="", help="write the loss curve to this PNG (needs matplotlib)")
    args = p.parse_args(argv)

    torch.manual_seed(args.seed)
    true_w = torch.randn(args.features, 1)
    true_b = 0.5
    X = torch.randn(args.samples, args.features)
    y = X @ true_w + true_b + 0.01 * torch.randn(args.samples, 1)
    loader = DataLoader(TensorDataset(X, y), batch_size=args.batch_size, shuffle=True)

    model = nn.Linear(args.features, 1)
    loss_fn = nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    losses = []
    bar = progress(range(args.epochs), desc="linear regression")
    for _ in bar:
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        losses.append(total / args.samples)
        set_postfix(bar, mse=f"{losses[-1]:.5f}")

    with torch.no_grad():
        final = loss_fn(model(X), y).item()
        w_err = (model.weight.reshape(-1) - true_w.reshape(-1)).abs().max().item()
    plot_curves(args.plot, {"train MSE": losses})
    print(f"max |w - w_true| = {w_err:.4f}, bias = {model.bias.item():.4f} (true {true_b})")
    print(f"final MSE: {final:.6f}")
    return final


if __name__ == "__main__":
    main()
