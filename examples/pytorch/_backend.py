"""The import switch of the PyTorch programs in this folder.

Each program is written against PyTorch's API. Its only rustgrad-specific line is
``from _backend import ...``, which stands for::

    import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim
    from torchvision import datasets, transforms, utils as vutils

and gives rustgrad's modules of those names (``import rustgrad as torch``), or PyTorch's own
when ``RUSTGRAD_PROGRAM_BACKEND=torch`` (so the same program can be checked against PyTorch).
Under PyTorch without torchvision installed, the few torchvision names the programs use
(FashionMNIST, FakeData, ToTensor, Normalize, Compose, save_image, make_grid) are served by
rustgrad.vision with their tensors converted to PyTorch tensors.
"""

import os
import sys
import types

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(_HERE))  # examples/, for _common (source-checkout sys.path)
import _common  # noqa: E402,F401

BACKEND = os.environ.get("RUSTGRAD_PROGRAM_BACKEND", "rustgrad")
DATA = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")

if BACKEND == "torch":
    import torch  # noqa: F401
    import torch.nn as nn  # noqa: F401
    import torch.nn.functional as F  # noqa: F401
    import torch.optim as optim  # noqa: F401

    try:
        from torchvision import datasets, transforms  # noqa: F401
        from torchvision import utils as vutils  # noqa: F401
    except ImportError:
        import numpy as _np
        import rustgrad as _rg
        from rustgrad.vision import datasets as _rg_datasets
        from rustgrad.vision import transforms as _rg_transforms
        from rustgrad.vision import utils as _rg_utils

        def _to_torch(t):
            return torch.from_numpy(_np.ascontiguousarray(t.numpy()))

        def _to_rg(t):
            return _rg.from_numpy(_np.ascontiguousarray(t.detach().cpu().numpy()))

        class _ToTensor:
            def __call__(self, pic):
                return _to_torch(_rg_transforms.ToTensor()(pic))

        class _Normalize:
            def __init__(self, mean, std):
                self.mean = torch.tensor(mean).reshape(-1, 1, 1)
                self.std = torch.tensor(std).reshape(-1, 1, 1)

            def __call__(self, t):
                return (t - self.mean) / self.std

        datasets = types.SimpleNamespace(FashionMNIST=_rg_datasets.FashionMNIST, FakeData=_rg_datasets.FakeData)
        transforms = types.SimpleNamespace(Compose=_rg_transforms.Compose, ToTensor=_ToTensor, Normalize=_Normalize)
        vutils = types.SimpleNamespace(
            save_image=lambda t, fp, **kw: _rg_utils.save_image(_to_rg(t), fp, **kw),
            make_grid=lambda t, **kw: _to_torch(_rg_utils.make_grid(_to_rg(t), **kw)),
        )
elif BACKEND == "rustgrad":
    import rustgrad as torch  # noqa: F401
    import rustgrad.nn as nn  # noqa: F401
    import rustgrad.nn.functional as F  # noqa: F401
    import rustgrad.optim as optim  # noqa: F401
    from rustgrad.vision import datasets, transforms  # noqa: F401
    from rustgrad.vision import utils as vutils  # noqa: F401
else:
    raise SystemExit(f"RUSTGRAD_PROGRAM_BACKEND must be 'rustgrad' or 'torch', not {BACKEND!r}")

save_image = vutils.save_image
