"""torch.nn.modules' layout: each submodule importable with torch's class names; the thin
modules that layout brought (padding, pixel shuffle, upsampling, distance) against references."""

import importlib

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn as nn
import rustgrad.nn.functional as F
from conftest import assert_close, gradcheck, requires_torch, torch

LAYOUT = {
    "activation": ["ReLU", "GELU", "Softmax", "MultiheadAttention", "PReLU", "Threshold", "GLU"],
    "batchnorm": ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "_BatchNorm", "_NormBase"],
    "container": ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"],
    "conv": ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "_ConvNd", "_ConvTransposeNd"],
    "distance": ["PairwiseDistance", "CosineSimilarity"],
    "dropout": ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "_DropoutNd"],
    "flatten": ["Flatten", "Unflatten"],
    "instancenorm": ["InstanceNorm1d", "InstanceNorm2d", "_InstanceNorm"],
    "linear": ["Identity", "Linear", "Bilinear", "NonDynamicallyQuantizableLinear"],
    "loss": ["MSELoss", "CrossEntropyLoss", "MultiMarginLoss", "_Loss", "_WeightedLoss"],
    "module": ["Module"],
    "normalization": ["LayerNorm", "GroupNorm", "RMSNorm"],
    "padding": ["ZeroPad2d", "ConstantPad1d", "ReflectionPad2d", "ReplicationPad3d", "CircularPad1d"],
    "pixelshuffle": ["PixelShuffle", "PixelUnshuffle"],
    "pooling": ["MaxPool2d", "AvgPool1d", "AdaptiveAvgPool2d", "_MaxPoolNd"],
    "rnn": ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "LSTMCell"],
    "sparse": ["Embedding"],
    "transformer": ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
                    "TransformerDecoderLayer"],
    "upsampling": ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"],
}


@pytest.mark.parametrize("sub", sorted(LAYOUT))
def test_submodule_names(sub):
    mod = importlib.import_module(f"rustgrad.nn.modules.{sub}")
    for name in LAYOUT[sub]:
        cls = getattr(mod, name)
        if not name.startswith("_"):
            assert getattr(nn, name) is cls, name  # one class, reachable both ways


def test_class_relations():
    from rustgrad.nn.modules.batchnorm import _BatchNorm
    from rustgrad.nn.modules.conv import _ConvNd
    from rustgrad.nn.modules.linear import NonDynamicallyQuantizableLinear

    assert issubclass(NonDynamicallyQuantizableLinear, nn.Linear)
    assert isinstance(nn.MultiheadAttention(4, 2).out_proj, NonDynamicallyQuantizableLinear)
    assert isinstance(nn.BatchNorm2d(3), _BatchNorm) and isinstance(nn.Conv2d(1, 1, 1), _ConvNd)


@requires_torch
def test_every_shared_name_is_where_torch_has_it():
    """For each torch.nn.modules.X, every public class rustgrad.nn also has is in rustgrad.nn.modules.X."""
    missing = []
    for sub in LAYOUT:
        tmod = importlib.import_module(f"torch.nn.modules.{sub}")
        ours = importlib.import_module(f"rustgrad.nn.modules.{sub}")
        for name, obj in vars(tmod).items():
            if isinstance(obj, type) and obj.__module__ == tmod.__name__ and not name.startswith("_"):
                if hasattr(nn, name) and not hasattr(ours, name):
                    missing.append(f"{sub}.{name}")
    assert missing == []


PAD_MODULES = [
    ("ZeroPad1d", 2, 3), ("ZeroPad2d", (1, 0, 2, 1), 4), ("ZeroPad3d", 1, 5),
    ("ConstantPad1d", (1, 2), 3), ("ConstantPad2d", 1, 4), ("ConstantPad3d", (1, 0, 0, 1, 1, 0), 5),
    ("ReflectionPad1d", 2, 3), ("ReflectionPad2d", (1, 2, 2, 1), 4), ("ReflectionPad3d", 1, 5),
    ("ReplicationPad1d", (0, 2), 3), ("ReplicationPad2d", 2, 4), ("ReplicationPad3d", 1, 5),
    ("CircularPad1d", 1, 3), ("CircularPad2d", (1, 1, 2, 0), 4), ("CircularPad3d", 1, 5),
]
NP_MODE = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "edge",
           "Circular": "wrap"}


@pytest.mark.parametrize("name,padding,ndim", PAD_MODULES)
def test_padding_modules_numpy(name, padding, ndim):
    shape = (2, 3, 4, 5, 4)[:ndim]
    x = np.random.randn(*shape)
    args = (padding, 1.5) if name.startswith("Constant") else (padding,)
    m = getattr(nn, name)(*args)
    k = int(name[-2])
    pads = (padding,) * (2 * k) if isinstance(padding, int) else padding
    np_pad = [(0, 0)] * (ndim - k) + [(pads[2 * i], pads[2 * i + 1]) for i in range(k)][::-1]
    kind = NP_MODE[next(p for p in NP_MODE if name.startswith(p))]
    kw = {"constant_values": 1.5 if name.startswith("Constant") else 0.0} if kind == "constant" else {}
    assert_close(m(rg.tensor(x)), np.pad(x, np_pad, mode=kind, **kw))
    assert m.padding == tuple(pads)


def _np_pixel_shuffle(x, r):
    n, c, h, w = x.shape
    return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)


def test_pixel_shuffle_numpy_roundtrip_gradcheck():
    x = np.random.randn(2, 8, 3, 2)
    out = nn.PixelShuffle(2)(rg.tensor(x))
    assert_close(out, _np_pixel_shuffle(x, 2))
    assert_close(nn.PixelUnshuffle(2)(out), x)
    assert nn.PixelShuffle(3)(rg.randn(9, 2, 2)).shape == (1, 6, 6)  # unbatched
    gradcheck(lambda t: F.pixel_shuffle(t, 2), (1, 4, 2, 3))
    gradcheck(lambda t: F.pixel_unshuffle(t, 2), (1, 2, 4, 2))
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(rg.ones(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\)=3 is not divisible by 2"):
        F.pixel_unshuffle(rg.ones(1, 3, 2, 3), 2)


def test_upsample_and_distance():
    x = np.random.randn(1, 2, 3, 3)
    assert_close(nn.Upsample(scale_factor=2)(rg.tensor(x)), x.repeat(2, 2).repeat(2, 3))
    assert nn.UpsamplingBilinear2d(size=(5, 4))(rg.tensor(x)).shape == (1, 2, 5, 4)
    a, b = np.random.randn(4, 3), np.random.randn(4, 3)
    assert_close(nn.PairwiseDistance()(rg.tensor(a), rg.tensor(b)), np.linalg.norm(a - b + 1e-6, axis=1))
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert_close(nn.CosineSimilarity()(rg.tensor(a), rg.tensor(b)), cos)


@requires_torch
def test_new_modules_match_torch_and_reprs():
    specs = [
        ("Upsample", dict(scale_factor=2, mode="bilinear", align_corners=False), (1, 2, 3, 4)),
        ("UpsamplingBilinear2d", dict(scale_factor=2), (1, 2, 3, 3)),
        ("UpsamplingNearest2d", dict(size=5), (1, 1, 3, 3)),
        ("PixelShuffle", dict(upscale_factor=2), (2, 8, 2, 3)),
        ("PixelUnshuffle", dict(downscale_factor=2), (2, 2, 4, 6)),
        ("PairwiseDistance", dict(p=1.0, keepdim=True), None),
        ("CosineSimilarity", dict(dim=0), None),
    ] + [(n, dict(padding=p), (2, 3, 4, 5, 4)[:d]) for n, p, d in PAD_MODULES if not n.startswith("Constant")]
    for name, kw, shape in specs:
        ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(theirs)
        if shape is None:
            a, b = np.random.randn(4, 3), np.random.randn(4, 3)
            assert_close(ours(rg.tensor(a), rg.tensor(b)), theirs(torch.tensor(a), torch.tensor(b)).numpy())
        else:
            x = np.random.randn(*shape)
            assert_close(ours(rg.tensor(x)), theirs(torch.tensor(x)).numpy(), rtol=1e-6)
    assert repr(nn.ConstantPad2d((1, 2, 0, 1), 3.5)) == repr(torch.nn.ConstantPad2d((1, 2, 0, 1), 3.5))
