"""The forward-forward algorithm on Fashion-MNIST (Hinton, 2022): each layer is trained on
its own to give high "goodness" (mean squared activation) to images with the right label
written into their first pixels and low goodness to images with a wrong label (the kind of
program PyTorch's examples/mnist_forward_forward is)."""

import argparse

from _backend import DATA, datasets, nn, optim, torch, transforms


def overlay_y_on_x(x, y):
    """Write the label one-hot (scaled to the image maximum) into the first 10 pixels."""
    x_ = x.clone()
    x_[:, :10] *= 0.0
    x_[range(x.shape[0]), y] = x.max()
    return x_


class Layer(nn.Linear):
    def __init__(self, in_features, out_features, num_epochs, lr):
        super().__init__(in_features, out_features)
        self.relu = torch.nn.ReLU()
        self.opt = optim.Adam(self.parameters(), lr=lr)
        self.threshold = 2.0
        self.num_epochs = num_epochs
        self.last_loss = None

    def forward(self, x):
        x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)  # only the direction goes on
        return self.relu(torch.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

    def train_layer(self, x_pos, x_neg):
        for _ in range(self.num_epochs):
            g_pos = self.forward(x_pos).pow(2).mean(1)
            g_neg = self.forward(x_neg).pow(2).mean(1)
            # push positive goodness above the threshold and negative goodness below it
            loss = torch.log(1 + torch.exp(torch.cat([-g_pos + self.threshold, g_neg - self.threshold]))).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.last_loss = loss.item()
        return self.forward(x_pos).detach(), self.forward(x_neg).detach()


class Net(torch.nn.Module):
    def __init__(self, dims, num_epochs, lr):
        super().__init__()
        self.layers = torch.nn.ModuleList([Layer(dims[d], dims[d + 1], num_epochs, lr) for d in range(len(dims) - 1)])

    def predict(self, x):
        goodness_per_label = []
        for label in range(10):
            h = overlay_y_on_x(x, label)
            goodness = []
            for layer in self.layers:
                h = layer(h)
                goodness += [h.pow(2).mean(1)]
            goodness_per_label += [sum(goodness).unsqueeze(1)]
        return torch.cat(goodness_per_label, 1).argmax(1)

    def train_net(self, x_pos, x_neg):
        h_pos, h_neg = x_pos, x_neg
        for i, layer in enumerate(self.layers):
            print("training layer", i, "...")
            h_pos, h_neg = layer.train_layer(h_pos, h_neg)
            print(f"layer {i} loss: {layer.last_loss:.4f}")


def load(root, train, n):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    ds = datasets.FashionMNIST(root, train=train, transform=tf)
    ds = torch.utils.data.Subset(ds, range(n))
    x, y = next(iter(torch.utils.data.DataLoader(ds, batch_size=n, shuffle=False)))
    return x.view(n, -1), y


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300, help="training epochs per layer (full batch)")
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--dry-run", action="store_true", help="small net, few samples and epochs")
    args = parser.parse_args()
    if args.dry_run:
        args.steps, args.train_size, args.test_size, args.hidden = min(args.steps, 20), 500, 200, 100
    torch.manual_seed(args.seed)
    x, y = load(args.data, True, args.train_size)
    x_te, y_te = load(args.data, False, args.test_size)

    net = Net([784, args.hidden, args.hidden], args.steps, args.lr)
    x_pos = overlay_y_on_x(x, y)
    rnd = torch.randperm(x.size(0))
    x_neg = overlay_y_on_x(x, y[rnd])  # mostly wrong labels
    net.train_net(x_pos, x_neg)
    train_error = 1.0 - net.predict(x).eq(y).float().mean().item()
    test_error = 1.0 - net.predict(x_te).eq(y_te).float().mean().item()
    print(f"train error: {train_error:.4f}")
    print(f"test error: {test_error:.4f}")
    final = sum(layer.last_loss for layer in net.layers) / len(net.layers)
    print(f"final loss: {final:.4f}")


if __name__ == "__main__":
    main()
