"""rustgrad.load's opt-ins, with torch.load's (2.6+) semantics: NumPy objects and whole modules
need ``add_safe_globals``/``safe_globals`` under the default ``weights_only=True``;
``weights_only=False`` is a full unpickler for trusted files; the FORCE environment variables.
Crafted files that name allow-listed NumPy functions still cannot run code or allocate what they
please: NumPy objects are rebuilt by checked stand-ins."""

import io
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import rustgrad
from rustgrad import nn
from rustgrad import serialization as S

NP_GLOBALS = [
    np._core.multiarray._reconstruct,
    np._core.multiarray.scalar,
    np.ndarray,
    np.dtype,
    np.dtypes.Float32DType,
    np.dtypes.Float64DType,
    np.dtypes.Int16DType,
    np.dtypes.Int32DType,
    np.dtypes.BoolDType,
    bytes,  # an empty array's data pickles as bytes(), which torch also refuses by default
]


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for n in (
        "RUSTGRAD_FORCE_WEIGHTS_ONLY_LOAD",
        "RUSTGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD",
        "TORCH_FORCE_WEIGHTS_ONLY_LOAD",
        "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD",
    ):
        monkeypatch.delenv(n, raising=False)
    S.clear_safe_globals()
    yield
    S.clear_safe_globals()


def _numpy_objects():
    return {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "f": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "be": np.arange(3, dtype=">i4"),
        "b": np.array([True, False]),
        "s": np.float64(2.5),
        "d": np.dtype("int16"),
        "e": np.zeros((0, 3), dtype=np.float32),
    }


def _check_same(got, want):
    # The reference is NumPy's own unpickling of the same objects (it turns big-endian arrays
    # native, for one).
    want = pickle.loads(pickle.dumps(want, protocol=2))
    assert set(got) == set(want)
    for k, w in want.items():
        g = got[k]
        assert type(g) is type(w), k
        if isinstance(w, np.ndarray):
            assert g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w), k
            assert g.flags.f_contiguous == w.flags.f_contiguous and g.flags.writeable, k
        else:
            assert g == w and repr(g) == repr(w), k


def _archive(payload):
    """A checkpoint zip whose data.pkl is ``payload`` (bytes) or ``pickle.dumps(payload)``."""
    data = payload if isinstance(payload, bytes) else pickle.dumps(payload, protocol=2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", data)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def _load(raw, **kw):
    return rustgrad.load(io.BytesIO(raw), **kw)


# -- NumPy --------------------------------------------------------------------------------------
def test_numpy_needs_safe_globals_like_torch():
    buf = io.BytesIO()
    rustgrad.save(_numpy_objects(), buf)
    raw = buf.getvalue()
    with pytest.raises(pickle.UnpicklingError) as ei:
        _load(raw)
    msg = str(ei.value)
    assert msg.startswith("Weights only load failed.")
    assert "weights_only` set to `False`" in msg
    assert "GLOBAL numpy._core.multiarray._reconstruct was not an allowed global by default" in msg
    assert "rustgrad.serialization.add_safe_globals([numpy._core.multiarray._reconstruct])" in msg
    assert S.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == sorted(
        ["builtins.bytes", "numpy._core.multiarray._reconstruct", "numpy._core.multiarray.scalar", "numpy.dtype", "numpy.ndarray"]
    )
    with S.safe_globals(NP_GLOBALS):
        assert S.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == []
        _check_same(_load(raw), _numpy_objects())
    assert S.get_safe_globals() == []  # the context manager removed them again
    # weights_only=False needs no allow-list.
    _check_same(_load(raw, weights_only=False), _numpy_objects())


def test_numpy_dtype_class_must_be_allowed_for_build():
    # As in PyTorch: BUILD on the dtype needs its class (numpy.dtypes.Float32DType) allow-listed.
    buf = io.BytesIO()
    rustgrad.save({"a": np.ones(2, dtype=np.float32)}, buf)
    with S.safe_globals([np._core.multiarray._reconstruct, np.ndarray, np.dtype]):
        with pytest.raises(pickle.UnpicklingError, match="Float32DType"):
            _load(buf.getvalue())
    S.add_safe_globals([np._core.multiarray._reconstruct, np.ndarray, np.dtype, np.dtypes.Float32DType])
    assert len(S.get_safe_globals()) == 4
    np.testing.assert_array_equal(_load(buf.getvalue())["a"], np.ones(2, dtype=np.float32))
    S.clear_safe_globals()
    assert S.get_safe_globals() == []


def test_numpy_round_trip_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "np.pt"
    torch.save({**_numpy_objects(), "t": torch.arange(4.0)}, p)
    with S.safe_globals(NP_GLOBALS):
        got = rustgrad.load(p)
    t = got.pop("t")
    np.testing.assert_array_equal(t.numpy(), np.arange(4.0, dtype=np.float32))
    _check_same(got, _numpy_objects())
    # torch refuses the same file by default, as we do
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(p)
    # and reads ours with the same allow-list
    q = tmp_path / "rg.pt"
    rustgrad.save({**_numpy_objects(), "t": rustgrad.arange(4.0)}, q)
    with torch.serialization.safe_globals(NP_GLOBALS):
        back = torch.load(q)
    assert torch.equal(back.pop("t"), torch.arange(4.0))
    _check_same(back, _numpy_objects())


class _Craft:
    """Pickles as ``func(*args)`` followed by BUILD ``state`` (whatever we like)."""

    def __init__(self, func, args, state=None):
        self.r = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.r


_REC = np._core.multiarray._reconstruct
_F4 = np.dtype("f4")


@pytest.mark.parametrize(
    "obj,msg",
    [
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (3,), _F4, False, b"12345678")), "needs 12 bytes"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (10**15, 10**15), _F4, False, b"1234")), "needs"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (-1,), _F4, False, b"1234")), "invalid array shape"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), "f4", False, b"12345678")), "numpy.dtype"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype("O"), False, [1, 2])), "object"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype("U2"), False, "abcd")), "string"),
        (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype([("x", "f4")]), False, b"12345678")), "Unsupported|structured|void"),
        (_Craft(_REC, (np.ndarray, (0,), b"b")), "never initialized|not initialized"),
        (_Craft(_REC, (np.matrix, (0,), b"b"), (1, (1,), _F4, False, b"1234")), "numpy.matrix|only numpy.ndarray"),
        (_Craft(np.ndarray, ((10**12,),)), "checked reconstruction stand-ins"),
        (_Craft(np._core.multiarray.scalar, ("f8", b"12345678")), "numpy.dtype"),
        (_Craft(np._core.multiarray.scalar, (_F4, b"12")), "needs 4 bytes"),
        (_Craft(bytes, (10**12,)), "may only copy bytes"),
    ],
)
def test_crafted_numpy_pickles_raise_unpickling_error(obj, msg):
    allowed = NP_GLOBALS + [np.matrix, np.dtypes.StrDType, np.dtypes.ObjectDType, np.dtypes.VoidDType]
    with S.safe_globals(allowed):
        with pytest.raises(pickle.UnpicklingError, match=msg):
            _load(_archive({"x": obj}))


def test_blocked_modules_stay_blocked_even_if_allowed():
    with S.safe_globals([os.system, (os.system, "posix.system"), (os.system, "os.system")]):
        with pytest.raises(pickle.UnpicklingError, match="is blocked"):
            _load(_archive({"x": _Craft(os.system, ("echo pwned",))}))


def test_safe_globals_tuple_form_and_validation():
    with S.safe_globals([(np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct")] + NP_GLOBALS):
        # a NumPy 1.x pickle names numpy.core.multiarray; the tuple maps it to the same stand-in
        data = pickle.dumps({"a": np.ones(3, dtype=np.float32)}, protocol=2).replace(
            b"numpy._core.multiarray", b"numpy.core.multiarray"
        )
        np.testing.assert_array_equal(_load(_archive(data))["a"], np.ones(3, dtype=np.float32))
    with S.safe_globals([(np.ndarray, "a", "b")]):
        with pytest.raises(ValueError, match="tuple of length 2"):
            _load(_archive({"a": 1}))
    with S.safe_globals([(np.ndarray, 3)]):
        with pytest.raises(TypeError, match="str of callable full path"):
            _load(_archive({"a": 1}))


# -- whole modules --------------------------------------------------------------------------------
def _model():
    rustgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4))


def test_whole_module_round_trip(tmp_path):
    m = _model()
    m(rustgrad.randn(5, 3))  # update the BatchNorm running stats
    m.eval()
    p = tmp_path / "model.pt"
    rustgrad.save(m, p)
    with pytest.raises(pickle.UnpicklingError) as ei:
        rustgrad.load(p)
    assert "Weights only load failed" in str(ei.value)
    assert "rustgrad.serialization.add_safe_globals([rustgrad.nn.modules.container.Sequential])" in str(ei.value)
    x = rustgrad.randn(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as torch 2.6+: no warning for an explicit weights_only=False
        m2 = rustgrad.load(p, weights_only=False)
    assert type(m2) is nn.Sequential and not m2.training
    np.testing.assert_allclose(m2(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    assert isinstance(m2[0].weight, nn.Parameter) and m2[0].weight.requires_grad
    np.testing.assert_array_equal(m2[2].running_mean.numpy(), m[2].running_mean.numpy())
    with S.safe_globals([nn.Sequential, nn.Linear, nn.ReLU, nn.BatchNorm1d]):
        m3 = rustgrad.load(p)
    np.testing.assert_allclose(m3(x).detach().numpy(), m(x).detach().numpy(), rtol=1e-6)
    # the loaded module trains
    m3.train()
    m3(rustgrad.randn(4, 3)).sum().backward()
    assert m3[0].weight.grad is not None


def test_torch_whole_module_cannot_become_rustgrad(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "torch_model.pt"
    torch.save(torch.nn.Linear(2, 2), p)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        rustgrad.load(p)
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear.*state_dict"):
        rustgrad.load(p, weights_only=False)
    # ...but its state_dict loads, into a rustgrad module
    q = tmp_path / "sd.pt"
    lin = torch.nn.Linear(2, 2)
    torch.save(lin.state_dict(), q)
    r = nn.Linear(2, 2)
    r.load_state_dict(rustgrad.load(q))
    np.testing.assert_array_equal(r.weight.detach().numpy(), lin.weight.detach().numpy())


def test_full_unpickler_errors_are_the_unpicklers_own():
    data = pickle.dumps({"a": 1}, protocol=2).replace(b"}", b"c__main__\nNoSuchClass\n)\x81", 1)
    with pytest.raises((AttributeError, pickle.UnpicklingError)):
        _load(_archive(data), weights_only=False)


# -- environment variables and arguments ----------------------------------------------------------
@pytest.mark.parametrize("prefix", ["RUSTGRAD", "TORCH"])
def test_force_no_weights_only_env(monkeypatch, prefix):
    buf = io.BytesIO()
    rustgrad.save(_model(), buf)
    raw = buf.getvalue()
    monkeypatch.setenv(f"{prefix}_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match=f"{prefix}_FORCE_NO_WEIGHTS_ONLY_LOAD detected"):
        assert type(_load(raw)) is nn.Sequential
    # an explicit weights_only=True is not overridden
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        _load(raw, weights_only=True)


@pytest.mark.parametrize("prefix", ["RUSTGRAD", "TORCH"])
def test_force_weights_only_env(monkeypatch, prefix):
    buf = io.BytesIO()
    rustgrad.save(_model(), buf)
    monkeypatch.setenv(f"{prefix}_FORCE_WEIGHTS_ONLY_LOAD", "true")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        _load(buf.getvalue(), weights_only=False)
    monkeypatch.setenv("RUSTGRAD_FORCE_NO_WEIGHTS_ONLY_LOAD", "yes")
    with pytest.raises(RuntimeError, match="should be set, but both were set"):
        _load(buf.getvalue())


def test_pickle_module_and_load_args():
    buf = io.BytesIO()
    rustgrad.save({"a": rustgrad.ones(2)}, buf)
    raw = buf.getvalue()
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module is specified"):
        _load(raw, pickle_module=pickle, weights_only=True)
    # pickle_module without weights_only means a full load, as in torch
    assert _load(raw, pickle_module=pickle)["a"].tolist() == [1.0, 1.0]
    with pytest.warns(UserWarning, match="pickle_load_args only works if `weights_only=False`"):
        _load(raw, encoding="latin1")
    assert _load(raw, weights_only=False, encoding="latin1")["a"].tolist() == [1.0, 1.0]


def test_messages_match_torch_for_unknown_global():
    torch = pytest.importorskip("torch")
    raw = _archive({"x": _Craft(collections_deque_factory(), ())})
    with pytest.raises(pickle.UnpicklingError) as ours:
        _load(raw)
    with pytest.raises(pickle.UnpicklingError) as theirs:
        torch.load(io.BytesIO(raw))
    # the same text, up to rustgrad's names
    norm = str(ours.value).replace("rustgrad.serialization", "torch.serialization")
    want = str(theirs.value).split("WeightsUnpickler error: ")[1].split("\n")[0]
    assert want in norm


def collections_deque_factory():
    import collections

    return collections.deque


def test_torch_sizes_dtypes_devices_load_by_default():
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"shape": torch.Size([2, 3]), "dt": torch.float32, "dev": torch.device("cpu")}, buf)
    got = _load(buf.getvalue())
    assert got["shape"] == rustgrad.Size([2, 3]) and isinstance(got["shape"], rustgrad.Size)
    assert got["dt"] == rustgrad.float32
    assert str(got["dev"]) == "cpu"


@pytest.mark.parametrize(
    "data,msg",
    [
        # set() then APPEND: only lists may be appended to
        (b"\x80\x02c__builtin__\nset\n)RK\x01a.", "Can only append to lists"),
        # set() then SETITEM: only dicts
        (b"\x80\x02c__builtin__\nset\n)RK\x01K\x02s.", "Can only SETITEM for dict"),
        # calling the *result* of an allowed call: only resolved globals may be called
        (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00latin1\x86R)R.", "unrecognized function"),
        # NEWOBJ of a class nobody allowed (resolved through an allowed path? no: refused at GLOBAL)
        (b"\x80\x02ccollections\ndeque\n)\x81.", "collections.deque was not an allowed global"),
        # BUILD on a set (neither OrderedDict nor an allow-listed type)
        (b"\x80\x02c__builtin__\nset\n)R}b.", "Can only build"),
        # INST/OBJ opcodes are refused outright
        (b"\x80\x02(c__builtin__\nset\no.", "Unsupported operand"),
        # a text persistent id
        (b"\x80\x02Pfoo\n.", "Unsupported operand"),
        # truncated counted data
        (b"\x80\x02X\xff\x00\x00\x00ab", "malformed data.pkl"),
    ],
)
def test_crafted_opcode_streams_refused(data, msg):
    with pytest.raises(pickle.UnpicklingError, match=msg) as ei:
        _load(_archive(data))
    assert str(ei.value).startswith("Weights only load failed")


def test_allow_listed_class_instances_are_rebuilt():
    buf = io.BytesIO()
    rustgrad.save({"point": _Point(1, 2), "t": rustgrad.ones(2)}, buf)
    with pytest.raises(pickle.UnpicklingError, match="_Point"):
        _load(buf.getvalue())
    with S.safe_globals([_Point]):
        got = _load(buf.getvalue())
    assert isinstance(got["point"], _Point) and (got["point"].x, got["point"].y) == (1, 2)


class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
