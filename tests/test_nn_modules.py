"""nn.Module machinery and layers: registration, state_dict, repr, train/eval, forward vs NumPy/PyTorch."""

import copy
from collections import OrderedDict

import numpy as np
import pytest
import rustgrad
import rustgrad.nn as nn
import rustgrad.nn.functional as F
from conftest import assert_close, requires_torch, torch


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 4)
        self.bn = nn.BatchNorm1d(4)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(4, 2, bias=False))
        self.register_buffer("scale", rustgrad.ones(2))
        self.register_buffer("tmp", rustgrad.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.bn(self.fc1(x))) * self.scale


def test_parameter_basics():
    t = rustgrad.randn(3)
    p = nn.Parameter(t)
    assert isinstance(p, rustgrad.Tensor) and p.requires_grad and p.is_leaf
    assert p._storage_id() == t._storage_id()  # aliases the data like torch
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q._storage_id() != p._storage_id()


def test_registration_and_iteration():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "head.1.weight"]
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "tmp", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
    ][:0] + ["scale", "tmp", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "head", "head.0", "head.1"]
    assert len(list(net.parameters(recurse=False))) == 0
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_parameter("fc1.bias") is net.fc1.bias
    with pytest.raises(AttributeError):
        net.nope  # noqa: B018
    # shared parameters appear once
    net.head[1].weight = net.head[1].weight
    shared = nn.Sequential(net.fc1, net.fc1)
    assert len(list(shared.parameters())) == 2
    del net.scale
    assert "scale" not in dict(net.named_buffers())
    with pytest.raises(TypeError):
        net.fc1.weight = rustgrad.randn(4, 6)
    net.fc1.weight = None
    assert "fc1.weight" not in dict(net.named_parameters())


def test_state_dict_order_and_round_trip():
    net = Net()
    keys = list(net.state_dict().keys())
    assert keys == [
        "scale", "fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked", "head.1.weight",
    ]
    sd = net.state_dict()
    assert not sd["fc1.weight"].requires_grad
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight
    other = Net()
    res = other.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in other.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    assert other.fc1.weight.requires_grad and other.fc1.weight.is_leaf


def test_load_state_dict_errors():
    net = Net()
    sd = net.state_dict()
    sd["fc1.weight"] = rustgrad.zeros(3, 3)
    del sd["bn.bias"]
    sd["extra.w"] = rustgrad.zeros(1)
    with pytest.raises(RuntimeError) as ei:
        net.load_state_dict(sd)
    msg = str(ei.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: \"bn.bias\". ")
    assert 'Unexpected key(s) in state_dict: "extra.w". ' in msg
    assert (
        "size mismatch for fc1.weight: copying a param with shape torch.Size([3, 3]) from checkpoint, "
        "the shape in current model is torch.Size([4, 6])." in msg
    )
    sd["fc1.weight"] = net.fc1.weight.detach()
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["bn.bias"] and res.unexpected_keys == ["extra.w"]


def test_repr():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (fc1): Linear(in_features=6, out_features=4, bias=True)\n"
        "  (bn): BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=4, out_features=2, bias=False)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"
    )
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)"
    assert repr(nn.LSTM(3, 4, 2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_train_eval_zero_grad_apply_to():
    net = Net()
    net.eval()
    assert not net.training and not net.head[0].training
    net.train()
    assert net.bn.training
    out = net(rustgrad.randn(5, 6))
    out.sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert (net.fc1.weight.grad.numpy() == 0).all()
    net.zero_grad()
    assert net.fc1.weight.grad is None
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and "Linear" in seen
    net.double()
    assert net.fc1.weight.dtype == rustgrad.float64 and isinstance(net.fc1.weight, nn.Parameter)
    assert net.bn.num_batches_tracked.dtype == rustgrad.int64
    net.to(rustgrad.float32)
    assert net.fc1.weight.dtype == rustgrad.float32
    assert net.to("cpu") is net
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_sequential_and_containers():
    seq = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.ReLU())]))
    assert isinstance(seq[0], nn.Linear) and seq.a is seq[0] and len(seq) == 2
    assert isinstance(seq[-1], nn.ReLU) and isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 1
    seq.append(nn.Tanh())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "ReLU", "Tanh"]
    del seq[0]
    assert len(seq) == 3
    with pytest.raises(IndexError):
        seq[5]
    ml = nn.ModuleList([nn.Linear(2, 2)])
    ml.extend([nn.ReLU()])
    ml.append(nn.Tanh())
    assert len(ml) == 3 and len(list(ml.parameters())) == 2
    md = nn.ModuleDict({"x": nn.ReLU()})
    md["y"] = nn.Linear(1, 1)
    assert list(md.keys()) == ["x", "y"] and "y" in md
    pl = nn.ParameterList([nn.Parameter(rustgrad.randn(2)), rustgrad.randn(3)])
    assert len(list(pl.parameters())) == 2 and isinstance(pl[1], nn.Parameter)
    pd = nn.ParameterDict({"a": rustgrad.randn(2)})
    assert isinstance(pd["a"], nn.Parameter) and [n for n, _ in pd.named_parameters()] == ["a"]


def test_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, i, o: calls.append(o.shape))
    lin.register_forward_pre_hook(lambda m, i: (i[0] * 0,))
    out = lin(rustgrad.randn(3, 2))
    assert calls == [rustgrad.Size([3, 2])]
    assert_close(out, lin.bias.detach().numpy()[None].repeat(3, 0))
    h.remove()
    lin(rustgrad.randn(1, 2))
    assert len(calls) == 1


def test_cuda_raises():
    with pytest.raises((RuntimeError, AssertionError)):
        nn.Linear(2, 2).cuda()


def np_linear(x, w, b):
    return x @ w.T + (b if b is not None else 0)


def test_linear_forward_backward():
    lin = nn.Linear(3, 2).double()
    x = np.random.randn(4, 3)
    xr = rustgrad.tensor(x, requires_grad=True)
    out = lin(xr)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert_close(out, np_linear(x, w, b))
    g = np.random.randn(4, 2)
    out.backward(rustgrad.tensor(g))
    assert_close(lin.weight.grad, g.T @ x)
    assert_close(lin.bias.grad, g.sum(0))
    assert_close(xr.grad, g @ w)


def test_batchnorm_train_eval_vs_numpy():
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = np.random.randn(8, 3) * 2 + 1
        out = bn(rustgrad.tensor(x))
        assert_close(out, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
        rm = 0.8 * rm + 0.2 * x.mean(0)
        rv = 0.8 * rv + 0.2 * x.var(0, ddof=1)
    assert_close(bn.running_mean, rm)
    assert_close(bn.running_var, rv)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = np.random.randn(4, 3)
    assert_close(bn(rustgrad.tensor(x)), (x - rm) / np.sqrt(rv + 1e-5))
    # momentum=None -> cumulative average
    bn = nn.BatchNorm2d(2, momentum=None, affine=False).double()
    xs = [np.random.randn(3, 2, 2, 2) for _ in range(2)]
    for x in xs:
        bn(rustgrad.tensor(x))
    assert_close(bn.running_mean, np.mean([x.mean((0, 2, 3)) for x in xs], 0))
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(rustgrad.randn(2, 2))
    nt = nn.BatchNorm1d(2, track_running_stats=False)
    assert nt.running_mean is None and "running_mean" not in nt.state_dict()


def test_dropout_modules_train_eval():
    d = nn.Dropout(0.5)
    x = rustgrad.ones(100)
    assert (d(x).numpy() == 0).any()
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError):
        nn.Dropout(2.0)


def test_embedding_module():
    emb = nn.Embedding(5, 3, padding_idx=1)
    idx = rustgrad.tensor([[1, 4], [0, 1]])
    out = emb(idx)
    assert tuple(out.shape) == (2, 2, 3)
    assert_close(out, emb.weight.detach().numpy()[idx.numpy()])
    out.sum().backward()
    assert (emb.weight.grad.numpy()[1] == 0).all() and (emb.weight.grad.numpy()[4] == 1).all()
    pre = nn.Embedding.from_pretrained(rustgrad.eye(3))
    assert not pre.weight.requires_grad and tuple(pre(rustgrad.tensor([2])).shape) == (1, 3)


def test_layer_group_norm_modules():
    x = np.random.randn(2, 4, 3)
    ln = nn.LayerNorm(3).double()
    m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    assert_close(ln(rustgrad.tensor(x)), (x - m) / np.sqrt(v + 1e-5))
    assert ln.bias is not None and nn.LayerNorm(3, bias=False).bias is None
    assert [n for n, _ in nn.LayerNorm(3, elementwise_affine=False).named_parameters()] == []
    gn = nn.GroupNorm(2, 4).double()
    assert tuple(gn(rustgrad.tensor(x)).shape) == (2, 4, 3)


def test_activation_modules():
    x = rustgrad.tensor([-2.0, 0.5, 8.0])
    assert_close(nn.ReLU6()(x), [0.0, 0.5, 6.0])
    assert_close(nn.LeakyReLU(0.1)(x), [-0.2, 0.5, 8.0])
    assert_close(nn.Softmax(dim=0)(x).sum(), 1.0)
    assert_close(nn.Hardtanh()(x), [-1.0, 0.5, 1.0])
    p = nn.PReLU()
    assert_close(p(x), [-0.5, 0.5, 8.0])
    assert [n for n, _ in p.named_parameters()] == ["weight"]


def np_lstm(x, h, c, wih, whh, bih, bhh):
    outs = []
    for t in range(x.shape[0]):
        g = x[t] @ wih.T + bih + h @ whh.T + bhh
        i, f, gg, o = np.split(g, 4, -1)
        sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(gg)
        h = sig(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def test_lstm_vs_numpy_and_shapes():
    lstm = nn.LSTM(3, 4).double()
    names = [n for n, _ in lstm.named_parameters()]
    assert names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    x = np.random.randn(5, 2, 3)
    out, (h, c) = lstm(rustgrad.tensor(x))
    p = {n: v.detach().numpy() for n, v in lstm.named_parameters()}
    ro, rh, rc = np_lstm(x, np.zeros((2, 4)), np.zeros((2, 4)), *p.values())
    assert_close(out, ro)
    assert_close(h, rh[None])
    assert_close(c, rc[None])
    bi = nn.GRU(3, 4, num_layers=2, batch_first=True, bidirectional=True)
    assert "weight_hh_l1_reverse" in dict(bi.named_parameters())
    assert tuple(bi.weight_ih_l1.shape) == (12, 8)
    o, h = bi(rustgrad.randn(2, 5, 3))
    assert tuple(o.shape) == (2, 5, 8) and tuple(h.shape) == (4, 2, 4)
    o, h = nn.RNN(3, 4, nonlinearity="relu")(rustgrad.randn(5, 3))
    assert tuple(o.shape) == (5, 4) and tuple(h.shape) == (1, 4)
    with pytest.raises(RuntimeError):
        nn.LSTM(3, 4)(rustgrad.randn(5, 2, 3), (rustgrad.zeros(1, 3, 4), rustgrad.zeros(1, 3, 4)))


def test_cells():
    cell = nn.LSTMCell(3, 4)
    h, c = cell(rustgrad.randn(2, 3))
    assert tuple(h.shape) == (2, 4) and tuple(c.shape) == (2, 4)
    assert tuple(nn.GRUCell(3, 4)(rustgrad.randn(3)).shape) == (4,)
    assert tuple(nn.RNNCell(3, 4)(rustgrad.randn(2, 3), rustgrad.zeros(2, 4)).shape) == (2, 4)


def test_mha_shapes_and_masks():
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = rustgrad.randn(3, 5, 8)
    out, w = mha(x, x, x)
    assert tuple(out.shape) == (3, 5, 8) and tuple(w.shape) == (3, 5, 5)
    assert_close(w.sum(-1), np.ones((3, 5)), atol=1e-5)
    kpm = rustgrad.tensor(np.array([[False] * 4 + [True]] * 3))
    _, w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    assert tuple(w.shape) == (3, 2, 5, 5) and np.abs(w.detach().numpy()[..., 4]).max() == 0
    names = [n for n, _ in mha.named_parameters()]
    assert names == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True), 2)
    assert tuple(enc(x).shape) == (3, 5, 8)
    assert "layers.1.self_attn.in_proj_weight" in enc.state_dict()


def _copy_to_torch(ours, theirs):
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()})


@requires_torch
@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda m: m.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), (2, 5, 3)),
        (lambda m: m.GRU(3, 4), (5, 2, 3)),
        (lambda m: m.RNN(3, 4, nonlinearity="relu", bidirectional=True), (5, 2, 3)),
        (lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), (2, 5, 8)),
        (lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", norm_first=True), (5, 2, 8)),
        (lambda m: m.Sequential(m.Linear(4, 6), m.LayerNorm(6), m.GELU(), m.Linear(6, 2)), (3, 4)),
        (lambda m: m.Bilinear(4, 4, 3), None),
    ],
)
def test_module_torch_parity(make, shape):
    ours = make(nn).double()
    theirs = make(torch.nn).double()
    _copy_to_torch(ours, theirs)
    assert list(ours.state_dict().keys()) == list(theirs.state_dict().keys())
    x = np.random.randn(*(shape or (3, 4)))
    xr = rustgrad.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    if shape is None:
        a, b = ours(xr, xr), theirs(xt, xt)
    else:
        a, b = ours(xr), theirs(xt)
    if isinstance(a, tuple):
        a, b = a[0], b[0]
    assert_close(a, b.detach().numpy(), rtol=1e-6, atol=1e-8)
    (a * a).sum().backward()
    (b * b).sum().backward()
    assert_close(xr.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    for (_n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad.numpy(), rtol=1e-6, atol=1e-8)


@requires_torch
def test_mha_torch_parity_with_masks():
    ours = nn.MultiheadAttention(8, 2, kdim=6, vdim=4).double()
    theirs = torch.nn.MultiheadAttention(8, 2, kdim=6, vdim=4).double()
    _copy_to_torch(ours, theirs)
    q, k, v = np.random.randn(3, 2, 8), np.random.randn(5, 2, 6), np.random.randn(5, 2, 4)
    mask = np.random.randn(3, 5)
    kpm = np.array([[False, False, False, True, False], [False] * 5])
    a, wa = ours(*(rustgrad.tensor(t) for t in (q, k, v)), attn_mask=rustgrad.tensor(mask), key_padding_mask=rustgrad.tensor(kpm))
    b, wb = theirs(*(torch.tensor(t) for t in (q, k, v)), attn_mask=torch.tensor(mask), key_padding_mask=torch.tensor(kpm))
    assert_close(a, b.detach().numpy(), rtol=1e-6, atol=1e-8)
    assert_close(wa, wb.detach().numpy(), rtol=1e-6, atol=1e-8)


@requires_torch
def test_module_repr_matches_torch():
    for make in (
        lambda m: m.Sequential(m.Conv2d(1, 4, 3, padding="same"), m.BatchNorm2d(4), m.MaxPool2d(2), m.Flatten()),
        lambda m: m.TransformerEncoder(m.TransformerEncoderLayer(8, 2), 2),
        lambda m: m.GRU(3, 4, num_layers=2, dropout=0.5),
        lambda m: m.ModuleDict({"a": m.LeakyReLU(0.2), "b": m.ELU(), "c": m.Softplus(), "d": m.Embedding(3, 2)}),
        lambda m: m.CrossEntropyLoss(),
        lambda m: m.Sequential(m.LayerNorm(3, bias=False), m.GroupNorm(1, 2), m.RMSNorm(3), m.InstanceNorm2d(3)),
        lambda m: m.Sequential(m.Dropout1d(), m.AvgPool2d(2), m.AdaptiveAvgPool2d(1), m.Softmax(1), m.Hardtanh()),
        lambda m: m.Sequential(m.ReLU6(), m.PReLU(), m.Bilinear(2, 3, 4), m.Unflatten(1, (2, 3)), m.LSTMCell(2, 3)),
        lambda m: m.Sequential(m.RNNCell(2, 3, nonlinearity="relu"), m.RNN(2, 3, nonlinearity="relu"), m.CELU()),
        lambda m: m.Sequential(m.SELU(inplace=True), m.Threshold(0.1, 2), m.Softshrink(), m.GLU(), m.AvgPool1d(3)),
        lambda m: m.Sequential(m.MaxPool1d(2), m.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1), m.Conv1d(2, 3, 3)),
        lambda m: m.Sequential(m.MultiheadAttention(4, 2), m.Softmin(0), m.LogSoftmax(1), m.Identity(), m.SiLU()),
        lambda m: m.Sequential(m.Mish(), m.Hardswish(), m.Hardsigmoid(), m.Sigmoid(), m.Tanh(), m.Softplus(2, 10)),
        lambda m: m.Sequential(m.BCEWithLogitsLoss(), m.KLDivLoss(), m.HuberLoss(), m.SmoothL1Loss(), m.NLLLoss()),
        lambda m: m.ParameterList([m.Parameter((torch if m is torch.nn else rustgrad).zeros(2))]),
        lambda m: m.ParameterDict({"a": m.Parameter((torch if m is torch.nn else rustgrad).zeros(2, 3))}),
    ):
        assert repr(make(nn)) == repr(make(torch.nn))


def test_utils_clip_and_vectors():
    p1 = nn.Parameter(rustgrad.tensor([3.0, 4.0]))
    p2 = nn.Parameter(rustgrad.tensor([0.0]))
    (p1 * rustgrad.tensor([1.0, 1.0])).sum().backward()
    p1.grad = rustgrad.tensor([3.0, 4.0])
    p2.grad = rustgrad.tensor([12.0])
    total = nn.utils.clip_grad_norm_([p1, p2], 6.5)
    assert_close(total, 13.0)
    assert_close(p1.grad, np.array([1.5, 2.0]), rtol=1e-5)
    p1.grad = rustgrad.tensor([3.0, -4.0])
    assert_close(nn.utils.clip_grad_norm_([p1], 1.0, norm_type="inf"), 4.0)
    p1.grad = rustgrad.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p1, 1.0, error_if_nonfinite=True)
    p1.grad = rustgrad.tensor([3.0, -4.0])
    nn.utils.clip_grad_value_([p1], 2.0)
    assert_close(p1.grad, np.array([2.0, -2.0]))
    lin = nn.Linear(2, 3)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (9,)
    nn.utils.vector_to_parameters(rustgrad.arange(9.0), lin.parameters())
    assert_close(lin.bias, np.array([6.0, 7.0, 8.0]))


def test_functional_reexports_native():
    for name in ("linear", "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
                 "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"):
        assert callable(getattr(F, name))


@requires_torch
@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda m: m.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 7)),
        (lambda m: m.Conv2d(2, 4, 3, padding="same", padding_mode="reflect"), (1, 2, 5, 5)),
        (lambda m: m.Conv2d(4, 4, 3, stride=2, groups=2, bias=False), (2, 4, 6, 6)),
        (lambda m: m.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1), (1, 2, 4, 4)),
        (lambda m: m.Sequential(m.MaxPool2d(2), m.AvgPool2d(2, stride=1), m.AdaptiveAvgPool2d((2, 3))), (1, 2, 8, 9)),
        (lambda m: m.Sequential(m.MaxPool1d(3, stride=2, padding=1), m.AvgPool1d(2), m.AdaptiveAvgPool1d(2)), (2, 3, 9)),
        (lambda m: m.Sequential(m.AdaptiveMaxPool2d((3, 4)), m.AdaptiveMaxPool2d(2)), (2, 3, 7, 9)),
        (lambda m: m.AdaptiveMaxPool1d(4), (2, 3, 9)),
        (lambda m: m.Sequential(m.Conv2d(2, 4, 3), m.BatchNorm2d(4), m.ReLU(), m.Flatten()), (3, 2, 5, 5)),
    ],
)
def test_conv_pool_torch_parity(make, shape):
    test_module_torch_parity(make, shape)


def test_full_backward_hook_sees_grad_input_and_output():
    lin = nn.Linear(3, 2)
    seen = []

    def hook(m, gin, gout):
        seen.append((tuple(gin[0].shape), tuple(gout[0].shape)))
        return (gin[0] * 2,)

    lin.register_full_backward_hook(hook)
    x = rustgrad.ones(4, 3, requires_grad=True)
    nn.functional.relu(lin(x)).sum().backward()  # the module output is freed before backward
    assert seen == [((4, 3), (4, 2))]
    plain = rustgrad.ones(4, 3, requires_grad=True)
    F.relu(F.linear(plain, lin.weight, lin.bias)).sum().backward()
    assert_close(x.grad, plain.grad.numpy() * 2)
