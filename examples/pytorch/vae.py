"""A variational auto-encoder on Fashion-MNIST that saves reconstructions and samples with
save_image (the kind of program PyTorch's examples/vae is)."""

import argparse
import os

from _backend import DATA, F, datasets, nn, optim, save_image, torch, transforms


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction (binary cross-entropy, summed) + KL divergence from the unit normal."""
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=0, help="batches per epoch (0: all)")
    parser.add_argument("--dry-run", action="store_true", help="one epoch of a few batches")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--out", default="results")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args()
    if args.dry_run:
        args.epochs, args.steps = 1, args.steps or 5
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    train_set = datasets.FashionMNIST(args.data, train=True, transform=transforms.ToTensor())
    test_set = datasets.FashionMNIST(args.data, train=False, transform=transforms.ToTensor())
    if args.steps:
        train_set = torch.utils.data.Subset(train_set, range(args.steps * args.batch_size))
        test_set = torch.utils.data.Subset(test_set, range(2 * args.batch_size))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.batch_size, shuffle=False)

    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    test_loss = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % args.log_interval == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}]"
                      f"\tLoss: {loss.item() / len(data):.6f}")
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")

        model.eval()
        test_loss = 0
        with torch.no_grad():
            for i, (data, _) in enumerate(test_loader):
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
                if i == 0:
                    n = min(data.size(0), 8)
                    comparison = torch.cat([data[:n], recon_batch.view(args.batch_size, 1, 28, 28)[:n]])
                    save_image(comparison.cpu(), os.path.join(args.out, f"reconstruction_{epoch}.png"), nrow=n)
        test_loss /= len(test_loader.dataset)
        print(f"====> Test set loss: {test_loss:.4f}")
        with torch.no_grad():
            sample = model.decode(torch.randn(64, 20)).cpu()
            save_image(sample.view(64, 1, 28, 28), os.path.join(args.out, f"sample_{epoch}.png"))
    print(f"final loss: {test_loss:.4f}")


if __name__ == "__main__":
    main()
