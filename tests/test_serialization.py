"""rustgrad.save/load (PyTorch zip format, restricted unpickler) and safetensors."""

import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest
import rustgrad
from conftest import requires_torch, torch
from rustgrad.serialization import load_safetensors, save_safetensors

DTYPES = [rustgrad.float32, rustgrad.float64, rustgrad.int64, rustgrad.int32, rustgrad.uint8, rustgrad.bool]


def _same(a, b):
    assert isinstance(b, rustgrad.Tensor)
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_dtypes(tmp_path, dtype):
    t = rustgrad.tensor(np.arange(-3, 9).reshape(3, 4) % 5).to(dtype)
    p = tmp_path / "t.pt"
    rustgrad.save(t, p)
    _same(t, rustgrad.load(p))


def test_round_trip_nested_containers(tmp_path):
    obj = collections.OrderedDict(
        w=rustgrad.randn(2, 3),
        meta={"lr": 0.1, "steps": 3, "name": "net", "flag": True, "none": None},
        params=[rustgrad.zeros(0), (rustgrad.tensor(5), 7)],
        empty=rustgrad.ones(2, 0, 3),
    )
    p = str(tmp_path / "o.pt")
    rustgrad.save(obj, p)
    back = rustgrad.load(p, map_location="cpu")
    assert isinstance(back, collections.OrderedDict) and list(back) == list(obj)
    _same(obj["w"], back["w"])
    assert back["meta"] == obj["meta"]
    _same(obj["params"][0], back["params"][0])
    assert isinstance(back["params"][1], tuple) and back["params"][1][1] == 7
    _same(obj["params"][1][0], back["params"][1][0])
    _same(obj["empty"], back["empty"])
    buf = io.BytesIO()
    rustgrad.save([1, "x", rustgrad.arange(3)], buf)
    buf.seek(0)
    l2 = rustgrad.load(buf)
    assert l2[:2] == [1, "x"]
    _same(rustgrad.arange(3), l2[2])


def test_views_and_shared_storage(tmp_path):
    base = rustgrad.arange(12.0).reshape(3, 4)
    t = base.t()
    row = base.select(0, 1)
    p = tmp_path / "v.pt"
    rustgrad.save({"base": base, "t": t, "row": row}, p)
    back = rustgrad.load(p)
    _same(t, back["t"])
    _same(row, back["row"])
    assert back["t"].stride() == (1, 4) and back["row"].storage_offset() == 4
    # one storage in the archive, and after loading the tensors still alias
    with zipfile.ZipFile(p) as zf:
        assert sorted(n for n in zf.namelist() if "/data/" in n) == ["archive/data/0"]
        assert zf.read("archive/byteorder") == b"little"
        assert zf.read("archive/version").strip() == b"3"
    back["base"].add_(1)
    assert back["row"].numpy().tolist() == [5.0, 6.0, 7.0, 8.0]


def test_requires_grad_preserved(tmp_path):
    w = rustgrad.ones(2, requires_grad=True)
    rustgrad.save({"w": w}, tmp_path / "g.pt")
    assert rustgrad.load(tmp_path / "g.pt")["w"].requires_grad


def test_atomic_write_leaves_no_partial_file(tmp_path):
    p = tmp_path / "ckpt.pt"
    rustgrad.save({"a": rustgrad.ones(3)}, p)
    before = p.read_bytes()

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle this")

    with pytest.raises(RuntimeError, match="cannot pickle"):
        rustgrad.save({"a": rustgrad.zeros(3), "bad": Unpicklable()}, p)
    assert p.read_bytes() == before  # old checkpoint intact
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # no temp file left
    with pytest.raises(RuntimeError):
        rustgrad.save({"bad": Unpicklable()}, tmp_path / "new.pt")
    assert not (tmp_path / "new.pt").exists()


# -- hand-written torch-format archives (no torch needed) --------------------------------------
def _stub_torch_modules():
    """Fake ``torch`` / ``torch._utils`` modules so a plain pickler can reference the globals."""
    torch_mod = types.ModuleType("torch")
    utils_mod = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_mod._rebuild_tensor_v2 = _rebuild_tensor_v2
    storages = {}
    for name in ("FloatStorage", "LongStorage", "DoubleStorage", "HalfStorage", "BoolStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch_mod, name, cls)
        storages[name] = cls
    torch_mod._utils = utils_mod
    return torch_mod, utils_mod, storages


class _FakeStorage:
    def __init__(self, cls, key, numel):
        self.cls, self.key, self.numel = cls, key, numel


class _FakeTensor:
    def __init__(self, rebuild, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self):
        return (self.rebuild, self.args)


def _write_torch_zip(path, obj_factory, blobs):
    torch_mod, utils_mod, storages = _stub_torch_modules()
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch_mod, utils_mod
    try:

        class P(pickle.Pickler):
            def persistent_id(self, o):
                if isinstance(o, _FakeStorage):
                    return ("storage", o.cls, o.key, "cpu", o.numel)
                return None

        buf = io.BytesIO()
        P(buf, protocol=2).dump(obj_factory(utils_mod._rebuild_tensor_v2, storages))
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mymodel/data.pkl", buf.getvalue())
        zf.writestr("mymodel/byteorder", "little")
        for key, raw in blobs.items():
            zf.writestr(f"mymodel/data/{key}", raw)
        zf.writestr("mymodel/version", "3\n")


def _read_handwritten(tmp_path):
    f32 = np.arange(6, dtype="<f4")
    i64 = np.array([3, -1, 7], dtype="<i8")
    f16 = np.array([1.5, -2.0], dtype="<f2")

    def factory(rebuild, S):
        fs = _FakeStorage(S["FloatStorage"], "0", 6)
        return collections.OrderedDict(
            m=_FakeTensor(rebuild, fs, 0, (2, 3), (3, 1)),
            mt=_FakeTensor(rebuild, fs, 0, (3, 2), (1, 3)),  # shares storage 0
            tail=_FakeTensor(rebuild, fs, 4, (2,), (1,)),
            idx=_FakeTensor(rebuild, _FakeStorage(S["LongStorage"], "1", 3), 0, (3,), (1,)),
            half=_FakeTensor(rebuild, _FakeStorage(S["HalfStorage"], "2", 2), 0, (2,), (1,)),
            step=4,
        )

    p = tmp_path / "handmade.pt"
    _write_torch_zip(p, factory, {"0": f32.tobytes(), "1": i64.tobytes(), "2": f16.tobytes()})
    sd = rustgrad.load(p)  # float16 loads as float16 (no conversion, no warning)
    assert list(sd) == ["m", "mt", "tail", "idx", "half", "step"]
    np.testing.assert_array_equal(sd["m"].numpy(), f32.reshape(2, 3))
    np.testing.assert_array_equal(sd["mt"].numpy(), f32.reshape(2, 3).T)
    np.testing.assert_array_equal(sd["tail"].numpy(), [4.0, 5.0])
    assert sd["idx"].dtype == rustgrad.int64 and sd["idx"].numpy().tolist() == [3, -1, 7]
    assert sd["half"].dtype == rustgrad.float16 and sd["half"].numpy().tolist() == [1.5, -2.0]
    assert sd["step"] == 4
    sd["m"].mul_(2)
    assert sd["mt"].numpy()[1, 0] == 2.0  # aliasing preserved


def test_read_handwritten_torch_zip(tmp_path):
    # The stub modules sit in sys.modules only while pickling; the real torch (if any) comes back.
    real = sys.modules.get("torch")
    _read_handwritten(tmp_path)
    assert sys.modules.get("torch") is real


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_refuses_code(tmp_path):
    buf = io.BytesIO()
    pickle.dump({"x": _Evil()}, buf, protocol=2)
    p = tmp_path / "evil.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("archive/data.pkl", buf.getvalue())
        zf.writestr("archive/version", "3\n")
    # The default and weights_only=True refuse it (weights_only=False is the explicit opt-in for
    # trusted files: tests/test_serialization_optins.py).
    for kw in ({}, {"weights_only": True}):
        with pytest.raises(pickle.UnpicklingError, match="posix.system|os.system|not an allowed|is blocked"):
            rustgrad.load(p, **kw)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(buf.getvalue())
    with pytest.raises(RuntimeError, match="zip"):
        rustgrad.load(plain)


# -- safetensors -------------------------------------------------------------------------------
def test_safetensors_round_trip(tmp_path):
    tensors = {
        f"t_{str(d).split('.')[-1]}": rustgrad.tensor(np.arange(6).reshape(2, 3) % 3).to(d) for d in DTYPES
    }
    tensors["scalar"] = rustgrad.tensor(2.5)
    tensors["noncontig"] = rustgrad.arange(6.0).reshape(2, 3).t()
    p = tmp_path / "m.safetensors"
    save_safetensors(tensors, p, metadata={"format": "pt"})
    raw = p.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert (8 + n) % 8 == 0
    assert header["__metadata__"] == {"format": "pt"}
    assert header["t_float32"]["dtype"] == "F32" and header["t_bool"]["dtype"] == "BOOL"
    assert header["scalar"]["shape"] == []
    back = load_safetensors(p)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        _same(v.contiguous(), back[k])


def test_safetensors_rejects_bad_files(tmp_path):
    p = tmp_path / "bad.safetensors"
    hdr = json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    p.write_bytes(struct.pack("<Q", len(hdr)) + hdr + b"\0" * 8)
    with pytest.raises(RuntimeError, match="data_offsets"):
        load_safetensors(p)
    p.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(RuntimeError, match="header"):
        load_safetensors(p)
    with pytest.raises(TypeError):
        save_safetensors({"a": [1, 2]}, tmp_path / "x.safetensors")


# -- PyTorch parity ----------------------------------------------------------------------------
@requires_torch
def test_torch_reads_our_file(tmp_path):
    base = rustgrad.arange(12.0).reshape(3, 4)
    obj = collections.OrderedDict(
        w=base,
        wt=base.t(),
        i=rustgrad.tensor([1, 2], dtype=rustgrad.int32),
        b=rustgrad.tensor([True, False]),
        nested={"x": [rustgrad.tensor(3, dtype=rustgrad.uint8), 1.5, "s", None]},
    )
    p = tmp_path / "ours.pt"
    rustgrad.save(obj, p)
    got = torch.load(p, weights_only=True)
    assert torch.equal(got["w"], torch.arange(12.0).reshape(3, 4))
    assert torch.equal(got["wt"], got["w"].t())
    assert got["wt"].untyped_storage().data_ptr() == got["w"].untyped_storage().data_ptr()
    assert got["i"].dtype == torch.int32 and got["b"].dtype == torch.bool
    assert got["nested"]["x"][0].dtype == torch.uint8 and got["nested"]["x"][1:] == [1.5, "s", None]


@requires_torch
def test_we_read_torch_file(tmp_path):
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    base = torch.arange(10, dtype=torch.float64)
    p = tmp_path / "theirs.pt"
    torch.save(
        {
            "model": lin.state_dict(),
            "opt": opt.state_dict(),
            "view": base[2:8:2],
            "base": base,
            "bf": torch.ones(2, dtype=torch.bfloat16),
        },
        p,
    )
    got = rustgrad.load(p)
    np.testing.assert_array_equal(got["model"]["weight"].numpy(), lin.weight.detach().numpy())
    assert got["opt"]["param_groups"][0]["lr"] == 0.1
    mom = got["opt"]["state"][0]["momentum_buffer"]
    np.testing.assert_allclose(mom.numpy(), opt.state[lin.weight]["momentum_buffer"].numpy())
    assert got["view"].numpy().tolist() == [2.0, 4.0, 6.0] and got["view"].dtype == rustgrad.float64
    got["base"].add_(1)
    assert got["view"].numpy().tolist() == [3.0, 5.0, 7.0]
    assert got["bf"].dtype == rustgrad.bfloat16 and got["bf"].tolist() == [1.0, 1.0]


def test_safetensors_reads_independently_encoded_file(tmp_path):
    arr = np.arange(4, dtype="<f4")
    hdr = json.dumps({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
    p = tmp_path / "ref.safetensors"
    p.write_bytes(struct.pack("<Q", len(hdr)) + hdr + arr.tobytes())
    np.testing.assert_array_equal(load_safetensors(p)["x"].numpy(), arr.reshape(2, 2))


def test_module_and_optimizer_state_round_trip(tmp_path):
    from rustgrad import nn

    m = nn.Linear(3, 2)
    opt = rustgrad.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(rustgrad.ones(1, 3)).sum().backward()
    opt.step()
    p = tmp_path / "ckpt.pt"
    rustgrad.save({"model": m.state_dict(), "opt": opt.state_dict(), "param": m.weight}, p)
    back = rustgrad.load(p)
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    m2 = nn.Linear(3, 2)
    m2.load_state_dict(back["model"])
    _same(m.weight.detach(), m2.weight.detach())
    opt2 = rustgrad.optim.SGD(m2.parameters(), lr=0.5, momentum=0.9)
    opt2.load_state_dict(back["opt"])
    assert opt2.param_groups[0]["lr"] == 0.1
    _same(opt.state_dict()["state"][0]["momentum_buffer"], opt2.state_dict()["state"][0]["momentum_buffer"])
    if torch is not None:
        got = torch.load(p, weights_only=True)
        tm = torch.nn.Linear(3, 2)
        tm.load_state_dict(got["model"])
        assert isinstance(got["param"], torch.nn.Parameter)
