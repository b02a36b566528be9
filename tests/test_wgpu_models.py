"""Layers and losses built from the device ops, on wgpu against the CPU: recurrent layers and
cells, a Transformer encoder layer (attention), the norms, and the losses of nn.functional. Each
case runs the same weights and inputs on both devices and compares outputs and input gradients."""

import os

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn as nn
import rustgrad.nn.functional as F


@pytest.fixture(autouse=True)
def _need_wgpu():
    if not rg.wgpu.is_available():
        if os.environ.get("RUSTGRAD_REQUIRE_WGPU") == "1":
            pytest.fail("RUSTGRAD_REQUIRE_WGPU=1 but rustgrad.wgpu.is_available() is False")
        pytest.skip("no wgpu adapter")


SEQ = np.random.default_rng(0).normal(size=(5, 3, 8)).astype(np.float32)
LAYERS = {
    "lstm2": (lambda: nn.LSTM(8, 16, 2), SEQ),
    "gru_bi": (lambda: nn.GRU(8, 16, bidirectional=True), SEQ),
    "rnn_tanh": (lambda: nn.RNN(8, 16), SEQ),
    "lstm_cell": (lambda: nn.LSTMCell(8, 16), SEQ[0]),
    "gru_cell": (lambda: nn.GRUCell(8, 16), SEQ[0]),
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), SEQ),
    "mha": (lambda: _SelfAttention(), SEQ),
    "layer_norm": (lambda: nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8)), SEQ),
    "batch_group_norm": (lambda: nn.Sequential(nn.Conv1d(3, 4, 3), nn.BatchNorm1d(4), nn.GroupNorm(2, 4)), SEQ),
    "embedding_bag": (lambda: _Embed(), np.array([[1, 5, 2], [0, 0, 9]], dtype=np.int64)),
}


class _SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2)

    def forward(self, x):
        return self.attn(x, x, x)[0]


class _Embed(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 6)

    def forward(self, idx):
        return self.emb(idx).tanh()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_cpu(name):
    make, data = LAYERS[name]
    rg.manual_seed(0)
    state = {k: v.clone() for k, v in make().state_dict().items()}
    got = {}
    for device in ("cpu", "wgpu"):
        m = make()
        m.load_state_dict(state)
        m = m.to(device)
        x = rg.tensor(data).to(device)
        if x.dtype == rg.float32:
            x.requires_grad_(True)
        y = m(x)
        y = y[0] if isinstance(y, tuple) else y
        assert y.device.type == device
        y.square().sum().backward()
        grads = [p.grad.cpu().numpy() for p in m.parameters()]
        got[device] = (y.detach().cpu().numpy(), x.grad.cpu().numpy() if x.requires_grad else None, grads)
    (yc, xc, gc), (yg, xg, gg) = got["cpu"], got["wgpu"]
    np.testing.assert_allclose(yg, yc, rtol=1e-4, atol=1e-5)
    if xc is not None:
        np.testing.assert_allclose(xg, xc, rtol=1e-4, atol=1e-5)
    for a, b in zip(gg, gc):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


LABELS = np.array([0, 1, 2, 3, 4, 0])
LOSSES = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "smooth_l1": F.smooth_l1_loss,
    "huber": F.huber_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
    "bce": lambda a, b: F.binary_cross_entropy(a.sigmoid(), b),
    "kl_div": lambda a, b: F.kl_div(F.log_softmax(a, 1), F.softmax(b, 1), reduction="batchmean"),
    "cross_entropy_probs": lambda a, b: F.cross_entropy(a, F.softmax(b, 1)),
    "cross_entropy_smoothing": lambda a, b: F.cross_entropy(a, rg.tensor(LABELS).to(a.device), label_smoothing=0.1),
    "nll_weighted": lambda a, b: F.nll_loss(
        F.log_softmax(a, 1), rg.tensor(LABELS).to(a.device), weight=b[0].abs() + 0.1, ignore_index=4
    ),
    "hinge_embedding": lambda a, b: F.hinge_embedding_loss(a, (b > 0.5).float() * 2 - 1),
    "margin_ranking": lambda a, b: F.margin_ranking_loss(a, b, rg.ones(6, 5).to(a.device)),
    "cosine_embedding": lambda a, b: F.cosine_embedding_loss(a, b, rg.ones(6).to(a.device)),
    "poisson_nll": F.poisson_nll_loss,
    "gaussian_nll": lambda a, b: F.gaussian_nll_loss(a, b, rg.ones(6, 5).to(a.device)),
    "soft_margin": F.soft_margin_loss,
    "triplet_margin": lambda a, b: F.triplet_margin_loss(a, b, b.flip(0)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_cpu(name):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 5)).astype(np.float32)
    b = rng.uniform(size=(6, 5)).astype(np.float32)
    got = {}
    for device in ("cpu", "wgpu"):
        x = rg.tensor(a).to(device).requires_grad_(True)
        loss = LOSSES[name](x, rg.tensor(b).to(device))
        assert loss.device.type == device
        loss.backward()
        got[device] = (loss.item(), x.grad.cpu().numpy())
    np.testing.assert_allclose(got["wgpu"][0], got["cpu"][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["wgpu"][1], got["cpu"][1], rtol=1e-4, atol=1e-6)
