"""A siamese network on Fashion-MNIST: two images through one shared CNN, their features
concatenated and classified as "same class" or not (the kind of program PyTorch's
examples/siamese_network is, with a small CNN in place of its ResNet)."""

import argparse

from _backend import DATA, datasets, nn, optim, torch, transforms


class APP_MATCHER(torch.utils.data.Dataset):
    """Pairs (image, other image, 1.0 if same class else 0.0); even indices are same-class pairs."""

    def __init__(self, root, train, n=None, seed=0):
        super().__init__()
        self.dataset = datasets.FashionMNIST(root, train=train, transform=transforms.Compose([
            transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))]))
        targets = self.dataset.targets.tolist()
        self.n = n or len(targets)
        self.by_class = {}
        for i, t in enumerate(targets[: self.n]):
            self.by_class.setdefault(t, []).append(i)
        self.targets = targets
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.n

    def _pick(self, pool):
        return pool[int(torch.randint(0, len(pool), (1,), generator=self.gen).item())]

    def __getitem__(self, index):
        image_1, label_1 = self.dataset[index]
        if index % 2 == 0:
            other = self._pick(self.by_class[label_1])
            target = torch.tensor(1, dtype=torch.float)
        else:
            other_class = self._pick([c for c in self.by_class if c != label_1])
            other = self._pick(self.by_class[other_class])
            target = torch.tensor(0, dtype=torch.float)
        image_2, _ = self.dataset[other]
        return image_1, image_2, target


class SiameseNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(inplace=True),
        )
        self.fc = nn.Sequential(nn.Linear(64 * 2, 64), nn.ReLU(inplace=True), nn.Linear(64, 1))
        self.sigmoid = nn.Sigmoid()
        self.fc.apply(self.init_weights)

    def init_weights(self, m):
        if isinstance(m, nn.Linear):
            torch.nn.init.xavier_uniform_(m.weight)
            m.bias.data.fill_(0.01)

    def forward_once(self, x):
        return self.features(x)

    def forward(self, input1, input2):
        output = torch.cat((self.forward_once(input1), self.forward_once(input2)), 1)
        return self.sigmoid(self.fc(output))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=0, help="batches per epoch (0: all)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dry-run", action="store_true", help="one epoch of a few batches")
    args = parser.parse_args()
    if args.dry_run:
        args.epochs, args.steps = 1, args.steps or 8
    torch.manual_seed(args.seed)
    n_train = args.steps * args.batch_size if args.steps else None
    train_loader = torch.utils.data.DataLoader(APP_MATCHER(args.data, True, n_train), batch_size=args.batch_size,
                                               shuffle=True)
    test_loader = torch.utils.data.DataLoader(APP_MATCHER(args.data, False, 4 * args.batch_size, seed=1),
                                              batch_size=args.batch_size)
    model = SiameseNetwork()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.BCELoss()
    test_loss = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch_idx, (images_1, images_2, targets) in enumerate(train_loader):
            optimizer.zero_grad()
            outputs = model(images_1, images_2).squeeze()
            loss = criterion(outputs, targets)
            loss.backward()
            optimizer.step()
            if batch_idx % 10 == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(images_1)}/{len(train_loader.dataset)}]"
                      f"\tLoss: {loss.item():.6f}")
        model.eval()
        test_loss, correct = 0.0, 0
        with torch.no_grad():
            for images_1, images_2, targets in test_loader:
                outputs = model(images_1, images_2).squeeze()
                test_loss += criterion(outputs, targets).sum().item()
                pred = torch.where(outputs > 0.5, 1, 0)
                correct += pred.eq(targets.view_as(pred)).sum().item()
        test_loss /= len(test_loader)
        print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{len(test_loader.dataset)} "
              f"({100.0 * correct / len(test_loader.dataset):.0f}%)")
    print(f"final loss: {test_loss:.4f}")


if __name__ == "__main__":
    main()
