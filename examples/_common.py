"""Small helpers shared by the examples: progress bars, data location, optional plots."""

import glob
import os
import sys

# Let the examples run from a source checkout without installing the package.
_HERE = os.path.dirname(os.path.abspath(__file__))
_PY = os.path.join(os.path.dirname(_HERE), "python")
# Use a source checkout only when it holds a built extension (scripts/dev-build.sh); otherwise
# the installed package.
if glob.glob(os.path.join(_PY, "rustgrad", "_rustgrad*.so")) and _PY not in sys.path:
    sys.path.insert(0, _PY)

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def progress(iterable, **kwargs):
    """tqdm progress bar when tqdm is installed; the plain iterable otherwise."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, **kwargs)


def set_postfix(bar, **kwargs):
    if hasattr(bar, "set_postfix"):
        bar.set_postfix(**kwargs)


def plot_curves(path, curves, xlabel="epoch"):
    """Save ``{name: [values]}`` as a PNG with matplotlib when it is installed; otherwise skip."""
    if not path:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"saved training curves to {path}")


def missing_data_message(root):
    return (
        f"Fashion-MNIST not found in {root}. Install it with `apt-get install dataset-fashion-mnist` "
        "or pass --data DIR pointing at a folder with the MNIST-format IDX files."
    )


def add_common_args(parser, epochs, batch_size, lr):
    """The options every image example shares."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--test-batch-size", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument(
        "--data", default=DEFAULT_DATA, help="folder with MNIST-format IDX files (raw or .gz)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    parser.add_argument("--test-limit", type=int, default=None, help="use only the first N test samples")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker threads")
    parser.add_argument("--plot", default="", help="write training curves to this PNG (needs matplotlib)")
    add_device_arg(parser)


def add_device_arg(parser):
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "wgpu", "auto"],
        help="where to train: cpu, wgpu (any Vulkan/Metal/DX12 GPU) or auto (the accelerator when present)",
    )


def resolve_device(name):
    """The device for ``--device``: ``auto`` is the accelerator when one is present, else the CPU."""
    import rustgrad as torch

    if name == "auto":
        acc = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
        return torch.device(acc.type if acc is not None else "cpu")
    if name == "wgpu" and not torch.wgpu.is_available():
        raise SystemExit("--device wgpu: no wgpu adapter found (install a Vulkan driver, e.g. mesa-vulkan-drivers)")
    return torch.device(name)


def image_datasets(args, train_transform, test_transform):
    """(train, test) Fashion-MNIST-format datasets, optionally truncated by --limit/--test-limit."""
    from rustgrad.utils.data import Subset
    from rustgrad.vision import datasets

    try:
        train = datasets.FashionMNIST(args.data, train=True, transform=train_transform)
        test = datasets.FashionMNIST(args.data, train=False, transform=test_transform)
    except RuntimeError as e:
        raise SystemExit(f"{missing_data_message(args.data)}\n({e})") from None
    if args.limit:
        train = Subset(train, range(min(args.limit, len(train))))
    if args.test_limit:
        test = Subset(test, range(min(args.test_limit, len(test))))
    return train, test


def evaluate(model, loader, loss_fn_sum, device="cpu"):
    """(mean loss, accuracy) of ``model`` over ``loader``; ``loss_fn_sum(output, target)`` sums."""
    import rustgrad as torch

    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            total_loss += loss_fn_sum(output, target).item()
            correct += (output.argmax(dim=1) == target).sum().item()
            n += target.shape[0]
    return total_loss / max(n, 1), correct / max(n, 1)
