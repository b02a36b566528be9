"""rustgrad.onnx.export: every export passes onnx.checker and, run by onnx's reference evaluator,
gives rustgrad's own output. Needs the optional ``onnx`` package (skipped without it, unless
RUSTGRAD_REQUIRE_ONNX=1, where its absence fails)."""

import io
import os

import numpy as np
import pytest
import rustgrad
import rustgrad.onnx
from rustgrad import nn

if os.environ.get("RUSTGRAD_REQUIRE_ONNX") == "1":
    import onnx  # noqa: F401  (must be installed: fail loudly)
onnx = pytest.importorskip("onnx")
from onnx.reference import ReferenceEvaluator  # noqa: E402


def _flat(obj):
    if isinstance(obj, rustgrad.Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _flat(o)]
    return []


def _reference_ops():
    # onnx's reference RNN implements only the Tanh/Affine activations; the ONNX spec (and
    # onnxruntime) also has Relu, which nn.RNN(nonlinearity="relu") exports. Teach it Relu.
    from onnx.reference.ops.op_rnn import RNN_14

    class RNN(RNN_14):
        op_domain = ""

        def choose_act(self, name, alpha, beta):
            if name in ("Relu", "relu"):
                return lambda x: np.maximum(x, 0)
            return super().choose_act(name, alpha, beta)

    return [RNN]


def _export_and_run(model, args, feeds=None, rtol=1e-4, atol=1e-5, **kw):
    """Export, check, run in the reference evaluator; compare with rustgrad's outputs. -> proto."""
    buf = io.BytesIO()
    proto = rustgrad.onnx.export(model, args, buf, **kw)
    loaded = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(loaded, full_check=True)
    if isinstance(model, nn.Module):
        model.eval()
    args = args if isinstance(args, tuple) else (args,)
    want = _flat(model(*(feeds or args)))
    ins = _flat(list(feeds or args))
    got = ReferenceEvaluator(loaded, new_ops=_reference_ops()).run(
        None, {i.name: a.numpy() for i, a in zip(loaded.graph.input, ins)}
    )
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = w.detach().numpy()
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return proto


@pytest.fixture(autouse=True)
def _seed():
    rustgrad.manual_seed(0)


def _x(*shape):
    return rustgrad.randn(*shape)


LAYERS = [
    ("linear", lambda: nn.Linear(3, 4), lambda: (_x(2, 3),)),
    ("linear_3d_nobias", lambda: nn.Linear(3, 4, bias=False), lambda: (_x(2, 5, 3),)),
    ("conv1d", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=1), lambda: (_x(2, 2, 9),)),
    ("conv2d", lambda: nn.Conv2d(4, 6, 3, stride=(2, 1), padding=(1, 2), dilation=2, groups=2), lambda: (_x(2, 4, 9, 8),)),
    ("conv2d_same", lambda: nn.Conv2d(2, 3, 4, padding="same"), lambda: (_x(1, 2, 7, 7),)),
    ("conv_transpose2d", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), lambda: (_x(2, 3, 4, 5),)),
    ("maxpool2d", lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: (_x(2, 3, 9, 8),)),
    ("maxpool2d_ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), lambda: (_x(1, 2, 5, 5),)),
    ("maxpool1d", lambda: nn.MaxPool1d(2), lambda: (_x(2, 3, 8),)),
    ("avgpool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), lambda: (_x(2, 3, 8, 8),)),
    ("avgpool2d_exclude_pad", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), lambda: (_x(1, 2, 7, 7),)),
    ("avgpool1d", lambda: nn.AvgPool1d(2), lambda: (_x(2, 3, 8),)),
    ("adaptive_avg_global", lambda: nn.AdaptiveAvgPool2d(1), lambda: (_x(2, 3, 5, 6),)),
    ("adaptive_avg_even", lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: (_x(2, 3, 4, 6),)),
    ("adaptive_avg_uneven", lambda: nn.AdaptiveAvgPool2d((3, 2)), lambda: (_x(1, 2, 7, 5),)),
    ("adaptive_avg1d", lambda: nn.AdaptiveAvgPool1d(3), lambda: (_x(2, 2, 7),)),
    ("batchnorm1d", lambda: nn.BatchNorm1d(3), lambda: (_x(4, 3),)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), lambda: (_x(2, 3, 4, 4),)),
    ("layernorm", lambda: nn.LayerNorm(4), lambda: (_x(2, 3, 4),)),
    ("layernorm_2d_shape", lambda: nn.LayerNorm([3, 4]), lambda: (_x(2, 3, 4),)),
    ("groupnorm", lambda: nn.GroupNorm(2, 4), lambda: (_x(2, 4, 3, 3),)),
    ("dropout_eval", lambda: nn.Dropout(0.5), lambda: (_x(3, 4),)),
    ("relu", lambda: nn.ReLU(), lambda: (_x(3, 4),)),
    ("gelu", lambda: nn.GELU(), lambda: (_x(3, 4),)),
    ("gelu_tanh", lambda: nn.GELU(approximate="tanh"), lambda: (_x(3, 4),)),
    ("sigmoid", lambda: nn.Sigmoid(), lambda: (_x(3, 4),)),
    ("tanh", lambda: nn.Tanh(), lambda: (_x(3, 4),)),
    ("softmax", lambda: nn.Softmax(dim=0), lambda: (_x(3, 4),)),
    ("log_softmax", lambda: nn.LogSoftmax(dim=-1), lambda: (_x(3, 4),)),
    ("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda: (_x(3, 4),)),
    ("elu", lambda: nn.ELU(0.7), lambda: (_x(3, 4),)),
    ("silu", lambda: nn.SiLU(), lambda: (_x(3, 4),)),
    ("flatten", lambda: nn.Flatten(), lambda: (_x(2, 3, 4),)),
    ("unflatten", lambda: nn.Unflatten(1, (2, 3)), lambda: (_x(4, 6),)),
    ("relu6", lambda: nn.ReLU6(), lambda: (_x(3, 4) * 5,)),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 0.7), lambda: (_x(3, 4),)),
    ("softplus", lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: (_x(3, 4) * 3,)),
    ("mish", lambda: nn.Mish(), lambda: (_x(3, 4),)),
    ("hardsigmoid", lambda: nn.Hardsigmoid(), lambda: (_x(3, 4) * 4,)),
    ("hardswish", lambda: nn.Hardswish(), lambda: (_x(3, 4) * 4,)),
    ("prelu", lambda: nn.PReLU(3), lambda: (_x(2, 3, 4),)),
    ("logsigmoid", lambda: nn.LogSigmoid(), lambda: (_x(3, 4) * 10,)),
    ("tanhshrink", lambda: nn.Tanhshrink(), lambda: (_x(3, 4),)),
    ("softsign", lambda: nn.Softsign(), lambda: (_x(3, 4),)),
    ("selu", lambda: nn.SELU(), lambda: (_x(3, 4),)),
    ("celu", lambda: nn.CELU(0.5), lambda: (_x(3, 4),)),
    ("glu", lambda: nn.GLU(), lambda: (_x(3, 4),)),
    ("flatten_mid", lambda: nn.Flatten(0, 1), lambda: (_x(2, 3, 4),)),
]


@pytest.mark.parametrize("name,make,inputs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer(name, make, inputs):
    _export_and_run(make(), inputs())


def test_batchnorm_running_stats_are_used():
    bn = nn.BatchNorm2d(3)
    bn(_x(8, 3, 4, 4) * 3 + 1)  # training step: running stats move away from (0, 1)
    _export_and_run(bn, (_x(2, 3, 4, 4),))


def test_embedding():
    emb = nn.Embedding(10, 4)
    idx = rustgrad.tensor([[1, 2, 9], [0, 4, 4]])
    _export_and_run(emb, (idx,))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, True)])
def test_recurrent(cls, layers, bidir, batch_first):
    m = getattr(nn, cls)(3, 4, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    x = _x(2, 5, 3) if batch_first else _x(5, 2, 3)
    _export_and_run(m, (x,))


def test_recurrent_with_initial_state():
    lstm = nn.LSTM(3, 4, num_layers=2)
    h0, c0 = _x(2, 2, 4), _x(2, 2, 4)
    _export_and_run(lstm, (_x(5, 2, 3), (h0, c0)))
    rnn = nn.RNN(3, 4, nonlinearity="relu")
    _export_and_run(rnn, (_x(5, 2, 3), _x(1, 2, 4)))


def test_multihead_attention():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    q, k = _x(2, 5, 8), _x(2, 6, 8)
    _export_and_run(mha, (q, k, k))
    mha2 = nn.MultiheadAttention(8, 4)
    mask = rustgrad.tensor(np.triu(np.ones((5, 5), dtype=bool), 1))
    q = _x(5, 2, 8)
    proto = rustgrad.onnx.export(_MaskedAttention(mha2, mask), (q,), io.BytesIO())
    got = ReferenceEvaluator(proto).run(None, {"q": q.numpy()})
    want = _MaskedAttention(mha2, mask)(q)
    np.testing.assert_allclose(got[0], want.detach().numpy(), rtol=1e-4, atol=1e-5)


class _MaskedAttention(nn.Module):
    def __init__(self, mha, mask):
        super().__init__()
        self.mha = mha
        self.mask = mask

    def forward(self, q):
        return self.mha(q, q, q, attn_mask=self.mask, need_weights=False)[0]


@pytest.mark.parametrize("norm_first,act", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_layer(norm_first, act):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first, activation=act, batch_first=True)
    _export_and_run(layer, (_x(2, 5, 8),))


def test_transformer_encoder_stack():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    enc = nn.TransformerEncoder(layer, num_layers=2)
    _export_and_run(enc, (_x(5, 2, 8),))


class _TensorOps(nn.Module):
    """A forward written with tensor methods and functions, as user models are."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 6)
        self.scale = nn.Parameter(rustgrad.ones(6) * 0.5)

    def forward(self, x, y):
        import rustgrad.nn.functional as F

        h = self.fc(x)  # (N, 3, 6)
        h = h.view(h.size(0), 3, 2, 3).permute(0, 2, 1, 3).reshape(x.shape[0], -1)  # (N, 18)
        h = h.transpose(0, 1).t()  # back to (N, 18)
        z = rustgrad.cat([h, y * 2.0 - 1], dim=1)  # (N, 20)
        z = rustgrad.stack([z, z.exp().sqrt()], dim=1).mean(dim=1)
        z = (z.unsqueeze(1) / 3 + 1).squeeze(1)
        s = F.relu(z).sum(dim=-1, keepdim=True) + z.matmul(rustgrad.ones(20, 1))
        a, b = z.chunk(2, dim=1)
        w = (self.fc(x)[:, 0] * self.scale).tanh()
        return F.softmax(z[:, 1:6], dim=-1) + a[:, :5] - b[:, ::2] ** 2, s, F.gelu(w).clamp(-0.1, 0.2)


def test_tensor_ops_in_forward():
    _export_and_run(_TensorOps(), (_x(2, 3, 4), _x(2, 2)))


def test_function_model_and_is_in_onnx_export():
    seen = []

    def f(x):
        seen.append(rustgrad.onnx.is_in_onnx_export())
        return (x @ x.transpose(0, 1)).sigmoid() - x.sum()

    _export_and_run(f, (_x(3, 3),))
    assert seen[0] is True and rustgrad.onnx.is_in_onnx_export() is False


def test_names_dynamic_axes_and_params(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    p = tmp_path / "m.onnx"
    rustgrad.onnx.export(
        model, (_x(2, 1, 4, 4),), str(p), input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": [0]}, dynamo=False, do_constant_folding=True,
    )  # fmt: skip
    m = onnx.load(str(p))
    onnx.checker.check_model(m)
    assert [i.name for i in m.graph.input] == ["image"]
    assert [o.name for o in m.graph.output] == ["logits"]
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert m.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "logits_dynamic_axes_1"
    assert {"0.weight", "0.bias", "3.weight", "3.bias"} <= {i.name for i in m.graph.initializer}
    # another batch size runs (the batch is symbolic)
    x5 = _x(5, 1, 4, 4)
    model.eval()
    (got,) = ReferenceEvaluator(m).run(None, {"image": x5.numpy()})
    np.testing.assert_allclose(got, model(x5).detach().numpy(), rtol=1e-4, atol=1e-5)
    # export_params=False: the parameters are graph inputs instead
    q = rustgrad.onnx.export(model, (_x(2, 1, 4, 4),), None, export_params=False)
    assert {"0.weight", "3.bias"} <= {i.name for i in q.graph.input}
    assert all(i.name not in ("0.weight", "3.bias") for i in q.graph.initializer)
    # keep_initializers_as_inputs=True: inputs with their values as initializers (runs with only x fed)
    k = rustgrad.onnx.export(model, (_x(2, 1, 4, 4),), None, keep_initializers_as_inputs=True, input_names=["image"])
    assert {"0.weight", "3.bias"} <= {i.name for i in k.graph.input} & {i.name for i in k.graph.initializer}
    onnx.checker.check_model(k)
    x2 = _x(2, 1, 4, 4)
    (got,) = ReferenceEvaluator(k).run(None, {"image": x2.numpy()})
    np.testing.assert_allclose(got, model(x2).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_model_mode_and_grad_flags_are_restored():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.3))
    model.train()
    rustgrad.onnx.export(model, (_x(2, 3),), None)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert rustgrad.Tensor.view.__name__ == "view" and not hasattr(rustgrad.Tensor.view, "__wrapped_for_onnx__")


def test_opset_versions():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    assert rustgrad.onnx.export(m, (_x(2, 3),), None).opset_import[0].version == 18
    p = _export_and_run(m, (_x(2, 3),), opset_version=20)
    assert p.opset_import[0].version == 20
    p = _export_and_run(m, (_x(2, 3),), opset_version=13)
    assert p.opset_import[0].version == 13
    # below 18 ReduceMean takes axes as an attribute, below 17 LayerNorm is composed
    ln = nn.Sequential(nn.LayerNorm(4), nn.AdaptiveAvgPool1d(3))
    for v in (13, 16, 17, 18):
        assert _export_and_run(ln, (_x(2, 3, 4),), opset_version=v).opset_import[0].version == v


def test_unsupported_operator_raises_naming_it():
    class UsesCumsum(nn.Module):
        def forward(self, x):
            return x.cumsum(0) + 1

    with pytest.raises(rustgrad.onnx.errors.UnsupportedOperatorError, match="aten::cumsum"):
        rustgrad.onnx.export(UsesCumsum(), (_x(3, 2),), None)
    assert issubclass(rustgrad.onnx.errors.UnsupportedOperatorError, rustgrad.onnx.OnnxExporterError)
    # patches are gone after the failure
    assert not hasattr(rustgrad.Tensor.cumsum, "__wrapped_for_onnx__")

    class UsesCell(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = nn.LSTMCell(2, 3)

        def forward(self, x):
            return self.cell(x)[0]

    with pytest.raises(rustgrad.onnx.errors.UnsupportedOperatorError, match="LSTMCell"):
        rustgrad.onnx.export(UsesCell(), (_x(3, 2),), None)
    with pytest.raises(rustgrad.onnx.errors.UnsupportedOperatorError, match="training mode"):
        rustgrad.onnx.export(nn.Dropout(0.5), (_x(3, 2),), None, training=rustgrad.onnx.TrainingMode.TRAINING)


def test_untraced_computation_is_caught():
    class ViaNumpy(nn.Module):
        def forward(self, x):
            y = x * 2
            # a computation the exporter cannot see: a native call it has no rule for
            return rustgrad.nn.functional._C._unary("leaky_relu", y, 0.1) + 1

    with pytest.raises(rustgrad.onnx.errors.UnsupportedOperatorError, match="untraced"):
        rustgrad.onnx.export(ViaNumpy(), (_x(3, 2),), None)


def test_python_values_from_traced_tensors_warn():
    class Branchy(nn.Module):
        def forward(self, x):
            k = int(x.shape[0])  # metadata: fine, no warning
            return x * x.sum().item() + k

    with pytest.warns(rustgrad.onnx.TracerWarning, match="item"):
        rustgrad.onnx.export(Branchy(), (_x(2, 2),), None)


class _MyLinear(nn.Linear):
    """A subclass keeping Linear's forward: exported by Linear's rule."""


class _ScaledLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2  # its own forward: traced inside


def test_layer_subclasses():
    _export_and_run(_MyLinear(3, 2), (_x(4, 3),))
    _export_and_run(_ScaledLinear(3, 2), (_x(4, 3),))


def test_casts_and_comparisons():
    def f(x):
        m = x > 0.1
        y = x.to(rustgrad.float64).to("cpu")
        return rustgrad.where(m, y.float(), x * 0) + (x == x).float(), (x < 0).long()

    _export_and_run(f, (_x(3, 4),))


class _PaddedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x, pad):
        out, w = self.mha(x, x, x, key_padding_mask=pad, average_attn_weights=False)
        return out, w


def test_attention_key_padding_mask_and_weights():
    pad = rustgrad.tensor(np.array([[False, False, False, True], [False, True, True, True]]))
    _export_and_run(_PaddedAttention(), (_x(2, 4, 8), pad))


def test_encoder_dynamic_batch():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    proto = rustgrad.onnx.export(layer, (_x(2, 5, 8),), None, input_names=["src"], dynamic_axes={"src": [0], "output": [0]})
    layer.eval()
    x3 = _x(3, 5, 8)
    (got,) = ReferenceEvaluator(proto).run(None, {"src": x3.numpy()})
    np.testing.assert_allclose(got, layer(x3).detach().numpy(), rtol=1e-4, atol=1e-5)
    lstm = nn.LSTM(3, 4, batch_first=True)
    proto = rustgrad.onnx.export(lstm, (_x(2, 5, 3),), None, input_names=["x"], dynamic_axes={"x": {0: "n", 1: "t"}})
    x = _x(4, 7, 3)
    got = ReferenceEvaluator(proto).run(None, {"x": x.numpy()})
    want = lstm(x)
    np.testing.assert_allclose(got[0], want[0].detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], want[1][0].detach().numpy(), rtol=1e-4, atol=1e-5)


class _Functional(nn.Module):
    """A forward written against nn.functional directly."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(rustgrad.randn(4, 2, 3, 3) * 0.3)
        self.b1 = nn.Parameter(rustgrad.randn(4) * 0.1)
        self.w2 = nn.Parameter(rustgrad.randn(3, 4, 2) * 0.3)
        self.emb = nn.Parameter(rustgrad.randn(7, 6))
        self.ln_w = nn.Parameter(rustgrad.ones(6) + 0.1)

    def forward(self, x, idx):
        import rustgrad.nn.functional as F

        h = F.max_pool2d(F.relu(F.conv2d(x, self.w1, self.b1, padding=1)), 2)  # (N, 4, 4, 4)
        h = F.avg_pool2d(h, 2, stride=1)  # (N, 4, 3, 3)
        h = F.adaptive_avg_pool2d(h, (2, 2)).flatten(2)  # (N, 4, 4)
        h = F.conv1d(h, self.w2, stride=2)  # (N, 3, 2)
        e = F.layer_norm(F.embedding(idx, self.emb), (6,), self.ln_w, None)  # (N, 3, 6)
        q = e.view(e.shape[0], 3, 2, 3).transpose(1, 2)  # (N, 2, 3, 3)
        a = F.scaled_dot_product_attention(q, q, q, is_causal=True)
        return h, a


def test_functional_forms():
    _export_and_run(_Functional(), (_x(2, 2, 8, 8), rustgrad.tensor([[1, 2, 3], [6, 0, 0]])))


class _MnistNet(nn.Module):
    """The shape of PyTorch's examples/mnist Net (smaller)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1)
        self.conv2 = nn.Conv2d(4, 8, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(8 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        import rustgrad.nn.functional as F

        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = rustgrad.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


class _WordLM(nn.Module):
    """The shape of PyTorch's examples/word_language_model RNNModel (LSTM)."""

    def __init__(self, ntoken=20, ninp=8, nhid=8, nlayers=2):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(0.2)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.2)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, input, hidden):
        import rustgrad.nn.functional as F

        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden


def test_example_programs_export(tmp_path):
    net = _MnistNet()
    net.train()  # exported in eval mode anyway (training=TrainingMode.EVAL)
    _export_and_run(net, (_x(2, 1, 12, 12),))
    lm = _WordLM()
    tokens = rustgrad.randint(0, 20, (6, 3))
    hidden = (rustgrad.zeros(2, 3, 8), rustgrad.zeros(2, 3, 8))
    p = tmp_path / "lm.onnx"
    rustgrad.onnx.export(lm, (tokens, hidden), str(p), input_names=["tokens", "h0", "c0"],
                         output_names=["logp", "hn", "cn"])  # fmt: skip
    m = onnx.load(str(p))
    onnx.checker.check_model(m)
    lm.eval()
    got = ReferenceEvaluator(m).run(None, {"tokens": tokens.numpy(), "h0": hidden[0].numpy(), "c0": hidden[1].numpy()})
    logp, (hn, cn) = lm(tokens, hidden)
    for g, w in zip(got, (logp, hn, cn)):
        np.testing.assert_allclose(g, w.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_more_tensor_ops():
    import rustgrad.nn.functional as F

    def f(x, idx):
        v, i = x.max(dim=1)
        a = x.argmax(1) + x.argmin() + i
        s = x.var(1, keepdim=True) + x.std() + rustgrad.maximum(x, x * 0.5).narrow(1, 1, 2).sum()
        g = x.gather(1, idx) * x.select(0, -1)[:2].mean() + x.index_select(0, idx[:, 0]).sum(0).unsqueeze(0)[:, :2]
        r = x.repeat(2, 1)[:, :2] + rustgrad.stack(x.unbind(1), 1)[:, :2].tile((2, 1))
        p = F.pad(x.unsqueeze(0), (1, 2), value=0.5)
        p2 = F.pad(x.view(1, 1, 3, 4), (1, 1, 1, 0), mode="reflect")
        up = F.interpolate(x.view(1, 1, 3, 4), scale_factor=2, mode="nearest")
        bl = F.interpolate(x.view(1, 1, 3, 4), size=(5, 7), mode="bilinear", align_corners=False)
        bl2 = F.interpolate(x.view(1, 1, 3, 4), scale_factor=2, mode="bilinear", align_corners=True)
        return v, a, s, g, r, p, p2, up, bl, bl2, x.sign() * x.round(), x.min()

    idx = rustgrad.tensor([[0, 2], [1, 1], [2, 0]])
    _export_and_run(f, (_x(3, 4), idx))


def test_dtype_promotion_in_arithmetic():
    def f(i, x):
        return i * 0.5 + x, i + 1, i / 2, 2 - i

    _export_and_run(f, (rustgrad.tensor([[1, 2], [3, 4]]), _x(2, 2)))


@pytest.mark.skipif(not hasattr(nn, "TransformerDecoderLayer"), reason="nn.TransformerDecoderLayer not in this build")
@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_transformer_decoder_layer(norm_first, batch_first):
    layer = nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, norm_first=norm_first, batch_first=batch_first)
    tgt, mem = (_x(2, 4, 8), _x(2, 6, 8)) if batch_first else (_x(4, 2, 8), _x(6, 2, 8))
    _export_and_run(layer, (tgt, mem))


@pytest.mark.skipif(not hasattr(nn, "Transformer"), reason="nn.Transformer not in this build")
def test_transformer_with_causal_mask():
    model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    src, tgt = _x(5, 2, 8), _x(4, 2, 8)

    class WithMask(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = model

        def forward(self, src, tgt):
            return self.t(src, tgt, tgt_mask=mask)

    _export_and_run(WithMask(), (src, tgt))
