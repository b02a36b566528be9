"""nn.Transformer, TransformerDecoderLayer, TransformerDecoder: torch's layout, outputs and gradients."""

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.nn as nn
from conftest import assert_close, requires_torch, torch


def _copy_from_torch(ours, theirs):
    """Loads torch's weights into ours by state_dict key (they must be the same keys)."""
    sd = {k: rg.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)


def _np(t):
    return t.detach().numpy()


def test_generate_square_subsequent_mask_is_static():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    expected = np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1)
    np.testing.assert_array_equal(m.numpy(), expected)
    assert m.dtype == rg.float32
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=rg.float64).dtype == rg.float64


def test_shapes_and_errors():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    assert model(rg.randn(5, 3, 8), rg.randn(4, 3, 8)).shape == (4, 3, 8)
    assert model(rg.randn(5, 8), rg.randn(4, 8)).shape == (4, 8)  # unbatched
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(rg.randn(5, 3, 8), rg.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
        model(rg.randn(5, 3, 8), rg.randn(4, 3, 6))
    bf = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, batch_first=True)
    assert bf(rg.randn(3, 5, 8), rg.randn(3, 4, 8)).shape == (3, 4, 8)


def test_custom_encoder_decoder_and_init():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2)
    model = nn.Transformer(d_model=8, nhead=2, custom_encoder=enc, custom_decoder=dec)
    assert model.encoder is enc and model.decoder is dec
    assert len(model.decoder.layers) == 2 and model.decoder.norm is None
    # Xavier-uniform init of every matrix: bound sqrt(6 / (fan_in + fan_out))
    w = model.decoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6.0 / (8 + 16)) + 1e-6


def test_decoder_layer_numpy_reference_post_norm():
    """One decoder layer (eval) against a NumPy transcription of the post-norm formula."""
    layer = nn.TransformerDecoderLayer(4, 1, dim_feedforward=6, dropout=0.0, dtype=rg.float64).eval()
    tgt, mem = rg.randn(3, 2, 4, dtype=rg.float64), rg.randn(5, 2, 4, dtype=rg.float64)
    p = {k: v.numpy() for k, v in layer.state_dict().items()}

    def attn(prefix, q_in, kv_in):
        w, b = p[prefix + ".in_proj_weight"], p[prefix + ".in_proj_bias"]
        q = q_in @ w[:4].T + b[:4]
        k = kv_in @ w[4:8].T + b[4:8]
        v = kv_in @ w[8:].T + b[8:]
        s = np.einsum("lne,sne->nls", q, k) / 2.0
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = np.einsum("nls,sne->lne", s, v)
        return o @ p[prefix + ".out_proj.weight"].T + p[prefix + ".out_proj.bias"]

    def ln(x, name):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * p[name + ".weight"] + p[name + ".bias"]

    x, m = tgt.numpy(), mem.numpy()
    x = ln(x + attn("self_attn", x, x), "norm1")
    x = ln(x + attn("multihead_attn", x, m), "norm2")
    h = np.maximum(x @ p["linear1.weight"].T + p["linear1.bias"], 0)
    x = ln(x + h @ p["linear2.weight"].T + p["linear2.bias"], "norm3")
    assert_close(layer(tgt, mem), x, rtol=1e-9, atol=1e-10)


def test_decoder_gradcheck():
    layer = nn.TransformerDecoderLayer(4, 2, dim_feedforward=6, dropout=0.0, norm_first=True, dtype=rg.float64)
    mem = rg.randn(3, 1, 4, dtype=rg.float64)
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype=rg.float64)
    x = rg.randn(2, 1, 4, dtype=rg.float64, requires_grad=True)
    assert rg.autograd.gradcheck(lambda t: layer(t, mem, tgt_mask=mask), [x], eps=1e-6, atol=1e-5, rtol=1e-3)


CONFIGS = [
    dict(),
    dict(norm_first=True, activation="gelu"),
    dict(batch_first=True, bias=False),
]


@requires_torch
@pytest.mark.parametrize("cfg", CONFIGS)
def test_transformer_matches_torch(cfg):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.1, **cfg)
    torch.manual_seed(0)
    theirs = torch.nn.Transformer(**kw).double().eval()
    ours = nn.Transformer(**kw, dtype=rg.float64).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert tuple(ours.state_dict()[k].shape) == tuple(v.shape), k
    _copy_from_torch(ours, theirs)

    bf = cfg.get("batch_first", False)
    src = np.random.randn(*((2, 5, 8) if bf else (5, 2, 8)))
    tgt = np.random.randn(*((2, 4, 8) if bf else (4, 2, 8)))
    pad = np.array([[False, False, False, True, True], [False] * 5])
    src_o, tgt_o = rg.tensor(src, requires_grad=True), rg.tensor(tgt, requires_grad=True)
    src_t, tgt_t = torch.tensor(src, requires_grad=True), torch.tensor(tgt, requires_grad=True)
    out_o = ours(
        src_o, tgt_o, tgt_mask=ours.generate_square_subsequent_mask(4, dtype=rg.float64),
        src_key_padding_mask=rg.tensor(pad), memory_key_padding_mask=rg.tensor(pad),
    )
    out_t = theirs(
        src_t, tgt_t, tgt_mask=theirs.generate_square_subsequent_mask(4, dtype=torch.float64),
        src_key_padding_mask=torch.tensor(pad), memory_key_padding_mask=torch.tensor(pad),
    )
    assert_close(out_o, _np(out_t), rtol=1e-7, atol=1e-8)

    w = np.random.randn(*out_t.shape)
    (out_o * rg.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    assert_close(src_o.grad, _np(src_t.grad), rtol=1e-6, atol=1e-8)
    assert_close(tgt_o.grad, _np(tgt_t.grad), rtol=1e-6, atol=1e-8)
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, _np(params_t[name].grad), rtol=1e-6, atol=1e-8)


@requires_torch
def test_decoder_stack_matches_torch_unbatched():
    torch.manual_seed(1)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 4, 12), 2, torch.nn.LayerNorm(8))
    theirs = theirs.double().eval()
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 4, 12, dtype=rg.float64), 2, nn.LayerNorm(8))
    ours = ours.double().eval()
    _copy_from_torch(ours, theirs)
    tgt, mem = np.random.randn(3, 8), np.random.randn(6, 8)
    mask = np.triu(np.ones((3, 3), dtype=bool), 1)
    out_o = ours(rg.tensor(tgt), rg.tensor(mem), tgt_mask=rg.tensor(mask))
    out_t = theirs(torch.tensor(tgt), torch.tensor(mem), tgt_mask=torch.tensor(mask))
    assert_close(out_o, _np(out_t), rtol=1e-7, atol=1e-8)
