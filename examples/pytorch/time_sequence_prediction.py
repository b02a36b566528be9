"""Learn sine waves with two stacked LSTMCells, trained by L-BFGS, then predict the future
(the kind of program PyTorch's examples/time_sequence_prediction is). The data is generated
here: N waves of length L with random phase shifts."""

import argparse

import numpy as np
from _backend import nn, optim, torch


def make_waves(n=100, length=1000, period=20, seed=2):
    rng = np.random.RandomState(seed)
    x = np.empty((n, length), np.int64)
    x[:] = np.arange(length) + rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / 1.0 / period).astype("float64")


class Sequence(nn.Module):
    def __init__(self, hidden=51):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        n = input.size(0)
        h_t = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t = torch.zeros(n, self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # feed the prediction back in
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=15, help="L-BFGS steps")
    parser.add_argument("--length", type=int, default=1000, help="samples per wave")
    parser.add_argument("--waves", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=51)
    parser.add_argument("--future", type=int, default=1000)
    parser.add_argument("--max-iter", type=int, default=20, help="L-BFGS iterations per step")
    parser.add_argument("--dry-run", action="store_true", help="short waves, a few steps")
    args = parser.parse_args()
    if args.dry_run:
        args.steps, args.length, args.waves, args.hidden, args.future = 2, 60, 12, 16, 20
        args.max_iter = min(args.max_iter, 6)
    np.random.seed(0)
    torch.manual_seed(0)
    data = make_waves(args.waves, args.length)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])

    seq = Sequence(args.hidden).double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8, max_iter=args.max_iter)
    test_loss = None
    for i in range(args.steps):
        print("STEP:", i)

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            print("loss:", loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            pred = seq(test_input, future=args.future)
            loss = criterion(pred[:, :-args.future], test_target)
            test_loss = loss.item()
            print("test loss:", test_loss)
        y = pred.detach().numpy()
        assert y.shape == (3, test_input.size(1) + args.future)
    print(f"final loss: {test_loss:.6f}")


if __name__ == "__main__":
    main()
