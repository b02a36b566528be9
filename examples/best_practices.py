"""Training-loop best practices on Fashion-MNIST:

* data augmentation (random crop with padding, horizontal flip, small rotations) on the training
  set only, loaded with DataLoader worker threads;
* a held-out validation split (random_split with a seeded generator);
* Xavier initialisation, SGD with momentum and weight decay, a StepLR schedule;
* checkpointing model + optimizer + scheduler + epoch every epoch (atomic writes), ``--resume``;
* the best model by validation accuracy kept separately, evaluated on the test set at the end.

    python examples/best_practices.py --epochs 3 --checkpoint ckpt.pt
    python examples/best_practices.py --epochs 5 --checkpoint ckpt.pt --resume
"""

import argparse
import os

import _common  # noqa: F401  (sets sys.path for a source checkout)
import rustgrad as torch
import rustgrad.nn.functional as F
from _common import add_common_args, evaluate, image_datasets, plot_curves, progress, set_postfix
from rustgrad import nn
from rustgrad.optim.lr_scheduler import StepLR
from rustgrad.utils.data import DataLoader, Subset, random_split
from rustgrad.vision import transforms

MEAN, STD = (0.2860,), (0.3530,)


class Net(nn.Module):
    """Small convnet: conv-relu-pool x2, dropout, two linear layers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10)
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.features(x))


def main(argv=None):
    p = argparse.ArgumentParser(description="Augmentation, momentum+weight decay, StepLR, checkpoints.")
    add_common_args(p, epochs=2, batch_size=64, lr=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--step-size", type=int, default=1, help="StepLR step (epochs)")
    p.add_argument("--gamma", type=float, default=0.5, help="StepLR decay factor")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--checkpoint", default="checkpoint.pt", help="where to save the training state")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)

    train_tf = transforms.Compose(
        [
            transforms.RandomCrop(28, padding=2),
            transforms.RandomHorizontalFlip(),
            transforms.RandomRotation(10),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    eval_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    train_full, test_set = image_datasets(args, train_tf, eval_tf)
    n_val = max(1, int(len(train_full) * args.val_fraction))
    train_idx, val_idx = random_split(
        range(len(train_full)),
        [len(train_full) - n_val, n_val],
        generator=torch.Generator().manual_seed(args.seed),
    )
    train_set = Subset(train_full, list(train_idx))
    # validation images must not be augmented: same indices, evaluation transform
    val_base = image_datasets(
        argparse.Namespace(**{**vars(args), "limit": None, "test_limit": None}), eval_tf, eval_tf
    )[0]
    base_indices = train_full.indices if isinstance(train_full, Subset) else range(len(train_full))
    val_set = Subset(val_base, [base_indices[i] for i in val_idx])

    workers = args.num_workers if args.num_workers else min(2, os.cpu_count() or 1)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=workers)
    val_loader = DataLoader(val_set, batch_size=args.test_batch_size)
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size)

    model = Net()
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay
    )
    scheduler = StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)
    start_epoch, best_acc = 1, 0.0
    history = {"train loss": [], "val accuracy": []}
    if args.resume and os.path.exists(args.checkpoint):
        ckpt = torch.load(args.checkpoint)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_epoch, best_acc, history = ckpt["epoch"] + 1, ckpt["best_acc"], ckpt["history"]
        print(f"resumed from {args.checkpoint} at epoch {start_epoch}")

    loss_fn = nn.CrossEntropyLoss()
    best_path = os.path.splitext(args.checkpoint)[0] + "_best.pt"
    for epoch in range(start_epoch, args.epochs + 1):
        model.train()
        total, n = 0.0, 0
        bar = progress(train_loader, desc=f"epoch {epoch}/{args.epochs} lr={scheduler.get_last_lr()[0]:.4g}")
        for x, y in bar:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * y.shape[0]
            n += y.shape[0]
            set_postfix(bar, loss=f"{loss.item():.4f}")
        scheduler.step()
        _, val_acc = evaluate(model, val_loader, lambda o, t: F.cross_entropy(o, t, reduction="sum"))
        history["train loss"].append(total / max(n, 1))
        history["val accuracy"].append(val_acc)
        print(f"epoch {epoch}: train loss {total / max(n, 1):.4f}, val accuracy {val_acc:.4f}")
        if val_acc > best_acc:
            best_acc = val_acc
            torch.save(model.state_dict(), best_path)
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch,
                "best_acc": best_acc,
                "history": history,
            },
            args.checkpoint,
        )

    if os.path.exists(best_path):
        model.load_state_dict(torch.load(best_path))
    _, test_acc = evaluate(model, test_loader, lambda o, t: F.cross_entropy(o, t, reduction="sum"))
    plot_curves(args.plot, history)
    print(f"best val accuracy: {best_acc:.4f}")
    print(f"final test accuracy: {test_acc:.4f}")
    return test_acc


if __name__ == "__main__":
    main()
