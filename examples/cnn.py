"""The classic PyTorch MNIST convnet (two conv layers, Dropout2d, max-pooling, log_softmax + NLL
loss), trained on Fashion-MNIST by default.

    python examples/cnn.py                # 1 epoch
    python examples/cnn.py --limit 5000   # quick run on 5000 training images
    python examples/cnn.py --device wgpu  # train on the GPU (any Vulkan/Metal/DX12 adapter)
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


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, loader, optimizer, epoch):
    model.train()
    total, n = 0.0, 0
    bar = progress(loader, desc=f"epoch {epoch}/{args.epochs}")
    for data, target in bar:
        data, target = data.to(args.device_obj), target.to(args.device_obj)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        total += loss.item() * target.shape[0]
        n += target.shape[0]
        set_postfix(bar, loss=f"{loss.item():.4f}")
    return total / max(n, 1)


def main(argv=None):
    p = argparse.ArgumentParser(description="Convnet on (Fashion-)MNIST.")
    add_common_args(p, epochs=1, batch_size=64, lr=0.01)
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--save-model", default="", help="save the trained state_dict to this path")
    args = p.parse_args(argv)
    device = args.device_obj = resolve_device(args.device)
    torch.manual_seed(args.seed)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.2860,), (0.3530,))])
    train_set, test_set = image_datasets(args, tf, tf)
    train_loader = DataLoader(
        train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers
    )
    test_loader = DataLoader(test_set, batch_size=args.test_batch_size, num_workers=args.num_workers)

    model = Net().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    history = {"train loss": [], "test accuracy": []}
    for epoch in range(1, args.epochs + 1):
        train_loss = train(args, model, train_loader, optimizer, epoch)
        test_loss, acc = evaluate(model, test_loader, lambda o, t: F.nll_loss(o, t, reduction="sum"), device)
        history["train loss"].append(train_loss)
        history["test accuracy"].append(acc)
        print(
            f"epoch {epoch}: train loss {train_loss:.4f}, test loss {test_loss:.4f}, test accuracy {acc:.4f}"
        )
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)
    plot_curves(args.plot, history)
    print(f"final test accuracy: {history['test accuracy'][-1]:.4f}")
    return history["test accuracy"][-1]


if __name__ == "__main__":
    main()
