"""Fit a random degree-4 polynomial with one Linear layer on the features x, x^2, x^3, x^4
(the kind of program PyTorch's examples/regression is)."""

import argparse

from _backend import F, torch

POLY_DEGREE = 4


def make_features(x):
    """Columns [x, x^2, x^3, x^4] for a batch of scalars."""
    x = x.unsqueeze(1)
    return torch.cat([x**i for i in range(1, POLY_DEGREE + 1)], 1)


def poly_desc(W, b):
    terms = " ".join(f"{w:+.2f} x^{i + 1}" for i, w in enumerate(W.view(-1).tolist()))
    return f"y = {terms} {b.item():+.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10000, help="most batches to train on")
    parser.add_argument("--dry-run", action="store_true", help="a few steps only")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.dry_run:
        args.steps = min(args.steps, 50)
    torch.manual_seed(args.seed)

    W_target = torch.randn(POLY_DEGREE, 1) * 5
    b_target = torch.randn(1) * 5

    def get_batch(batch_size=32):
        x = torch.randn(batch_size)
        features = make_features(x)
        return features, features.mm(W_target) + b_target.item()

    fc = torch.nn.Linear(W_target.size(0), 1)
    loss = None
    for step in range(1, args.steps + 1):  # noqa: B007  (reported after the loop)
        batch_x, batch_y = get_batch()
        fc.zero_grad()
        output = F.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        # plain gradient descent, written by hand as the original does
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        if loss < 1e-3:
            break
    print(f"Loss: {loss:.6f} after {step} batches")
    print("==> Learned function:\t" + poly_desc(fc.weight, fc.bias))
    print("==> Actual function:\t" + poly_desc(W_target, b_target))
    print(f"final loss: {loss:.6f}")


if __name__ == "__main__":
    main()
