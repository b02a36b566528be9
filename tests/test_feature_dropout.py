"""Dropout1d/2d/3d on every input rank: PyTorch 2.x's mask shapes, warnings and errors."""

import warnings

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn.functional as F

WARN_2D = (
    "dropout2d: Received a 2-D input to dropout2d, which is deprecated and will result in an error in a future "
    "release. To retain the behavior and silence this warning, please use dropout instead. Note that dropout2d "
    "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and an "
    "optional batch dimension (i.e. 3D or 4D inputs)."
)


def _messages(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught]


def _assert_constant_over(mask, axes):
    """Every slice along ``axes`` holds one value (the mask was drawn once per channel)."""
    for ax in axes:
        assert np.all(mask == np.take(mask, [0], axis=ax)), f"mask varies along axis {ax}"


def test_dropout2d_on_2d_input_drops_elements_and_warns():
    rg.manual_seed(0)
    x = rg.ones(40, 50)
    out, msgs = _messages(lambda: rg.nn.Dropout2d(0.5)(x))
    assert msgs == [WARN_2D]
    o = out.numpy()
    assert set(np.unique(o)) <= {0.0, 2.0}
    # element-wise: rows are neither all kept nor all dropped
    mixed_rows = [(r == 0).any() and (r == 2).any() for r in o]
    assert sum(mixed_rows) > 35
    assert 0.4 < (o == 0).mean() < 0.6


def test_dropout2d_3d_input_is_channelwise_1d_with_warning():
    rg.manual_seed(0)
    out, msgs = _messages(lambda: F.dropout2d(rg.ones(4, 6, 5), 0.5))
    assert len(msgs) == 1 and msgs[0].startswith("dropout2d: Received a 3D input to dropout2d and assuming")
    _assert_constant_over(out.numpy(), [2])


def test_dropout2d_4d_no_warning_channelwise():
    rg.manual_seed(0)
    out, msgs = _messages(lambda: F.dropout2d(rg.ones(3, 8, 4, 4), 0.5))
    assert msgs == []
    _assert_constant_over(out.numpy(), [2, 3])


def test_dropout3d_unbatched_and_legacy_ranks():
    rg.manual_seed(0)
    out, msgs = _messages(lambda: F.dropout3d(rg.ones(6, 3, 2, 2), 0.5))
    assert msgs == []
    _assert_constant_over(out.numpy(), [1, 2, 3])
    out, msgs = _messages(lambda: F.dropout3d(rg.ones(6, 5), 0.5))
    assert len(msgs) == 1 and msgs[0].startswith("dropout3d: Received a 2-D input to dropout3d")
    _assert_constant_over(out.numpy(), [1])  # (1, 6, 5): one draw per row


def test_feature_dropout_rank1_errors_only_when_dropping():
    x = rg.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in the input"):
            F.dropout2d(x, 0.5)
        np.testing.assert_array_equal(F.dropout2d(x, 0.5, training=False).numpy(), np.ones(3))
        np.testing.assert_array_equal(F.dropout2d(x, 1.0).numpy(), np.zeros(3))


def test_dropout1d_unbatched():
    rg.manual_seed(0)
    out = F.dropout1d(rg.ones(8, 5), 0.5)
    _assert_constant_over(out.numpy(), [1])
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(rg.ones(2, 2, 2, 2), 0.5)


def test_dropout2d_gradient_is_mask():
    rg.manual_seed(1)
    x = rg.ones(6, 7, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.dropout2d(x, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())


def test_matches_torch_warnings():
    torch = pytest.importorskip("torch", exc_type=ImportError)
    for shape in [(4, 6), (2, 3, 4), (2, 3, 4, 4), (5,)]:
        for fn in ("dropout2d", "dropout3d"):
            _, ours = _messages(lambda f=fn, s=shape: _safe(getattr(F, f), rg.ones(*s)))
            _, theirs = _messages(lambda f=fn, s=shape: _safe(getattr(torch.nn.functional, f), torch.ones(*s)))
            assert ours == theirs, (fn, shape)


def _safe(fn, x):
    try:
        return fn(x, 0.5)
    except RuntimeError as e:
        return str(e)
