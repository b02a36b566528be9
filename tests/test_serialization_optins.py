"""rustgrad.load's opt-ins, with torch.load's (2.6+) semantics: whole modules and other classes
need ``add_safe_globals``/``safe_globals`` under the default ``weights_only=True``;
``weights_only=False`` is a full unpickler for trusted files; the FORCE environment variables.

NumPy arrays, numeric dtypes and scalars load by default (unlike torch 2.15, which refuses them):
they are rebuilt by checked stand-ins, so crafted files that name NumPy's reconstruction functions
still cannot run code or allocate what they please."""

import io
import os
import pickle
import pickletools
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
        "z": np.array(7, dtype=np.int64),  # 0-d
        "e": np.zeros((0, 3), dtype=np.float32),
        "view": np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2],  # non-contiguous: saved as a copy
        "cplx": np.array([1 + 2j, -3j], dtype=np.complex64),
        "half": np.array([0.5, -2.0], dtype=np.float16),
        "u": np.arange(4, dtype=np.uint16),
        "s": np.float64(2.5),
        "si": np.int32(-7),
        "sb": np.True_,
        "d": np.dtype("int16"),
        "dbe": np.dtype(">f8"),
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


# -- NumPy ----------------------------------------------------------------------------------------
def test_numpy_loads_by_default():
    buf = io.BytesIO()
    rustgrad.save(_numpy_objects(), buf)
    raw = buf.getvalue()
    _check_same(_load(raw), _numpy_objects())
    # nothing to allow-list: every global the file names is in the default table
    assert S.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == []
    assert S.get_safe_globals() == []
    # the torch-style allow-list recipe is harmless (same stand-ins), and weights_only=False agrees
    with S.safe_globals(NP_GLOBALS):
        _check_same(_load(raw), _numpy_objects())
    _check_same(_load(raw, weights_only=False), _numpy_objects())


def test_numpy_nested_with_tensors():
    obj = {
        "model": {"w": rustgrad.arange(6.0).reshape(2, 3), "b": rustgrad.zeros(3)},
        "extra": [np.arange(3, dtype=np.int64), ({"mean": np.float32(0.25)}, np.eye(2))],
        "step": 3,
    }
    buf = io.BytesIO()
    rustgrad.save(obj, buf)
    got = _load(buf.getvalue())
    np.testing.assert_array_equal(got["model"]["w"].numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3))
    assert isinstance(got["model"]["b"], rustgrad.Tensor) and got["model"]["b"].tolist() == [0.0, 0.0, 0.0]
    a, (inner, eye) = got["extra"]
    assert a.dtype == np.int64 and a.tolist() == [0, 1, 2]
    assert type(inner["mean"]) is np.float32 and inner["mean"] == np.float32(0.25)
    assert eye.dtype == np.float64 and np.array_equal(eye, np.eye(2))
    assert got["step"] == 3


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("numpy1_names", [False, True])
def test_numpy_pickles_of_every_protocol_and_numpy_version(protocol, numpy1_names):
    # Protocol 5 pickles arrays through numpy._core.numeric._frombuffer; NumPy 1.x names its
    # modules numpy.core.* (simulated by renaming, which is all that differs in the pickle).
    data = pickle.dumps(_numpy_objects(), protocol=protocol)
    if numpy1_names:
        assert b"numpy._core." in data
        data = _as_numpy1_pickle(data)
    want = pickle.loads(pickle.dumps(_numpy_objects(), protocol=protocol))
    got = _load(_archive(data))
    for k, w in want.items():
        g = got[k]
        assert type(g) is type(w), k
        if isinstance(w, np.ndarray):
            # byte order too: protocol 5 keeps a big-endian dtype, older protocols make it native
            assert g.dtype == w.dtype and g.dtype.byteorder == w.dtype.byteorder and g.shape == w.shape, k
            assert np.array_equal(g, w) and g.flags.f_contiguous == w.flags.f_contiguous, k
        else:
            assert g == w and repr(g) == repr(w), k


def _as_numpy1_pickle(data):
    """The same pickle naming NumPy 1.x's ``numpy.core.*`` modules: module strings re-encoded with
    their new lengths, FRAME opcodes (protocol 4+, whose lengths would be off) dropped."""
    out = bytearray()
    ops = list(pickletools.genops(data)) + [(None, None, len(data))]
    for (op, arg, pos), (_, _, end) in zip(ops, ops[1:]):
        if op.name == "FRAME":
            continue
        if isinstance(arg, str) and arg.startswith("numpy._core."):
            new = arg.replace("numpy._core.", "numpy.core.", 1).encode()
            if op.name == "SHORT_BINUNICODE":
                out += b"\x8c" + bytes([len(new)]) + new
                continue
            if op.name == "GLOBAL":
                out += b"c" + new.replace(b" ", b"\n") + b"\n"
                continue
        out += data[pos:end]
    assert b"numpy._core" not in out
    return bytes(out)


def test_numpy_round_trip_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "np.pt"
    torch.save({**_numpy_objects(), "t": torch.arange(4.0)}, p)
    got = rustgrad.load(p)  # no allow-list needed here
    t = got.pop("t")
    np.testing.assert_array_equal(t.numpy(), np.arange(4.0, dtype=np.float32))
    _check_same(got, _numpy_objects())
    # The documented difference: torch 2.15 refuses the same file by default ...
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(p)
    # ... and reads ours with its allow-list
    q = tmp_path / "rg.pt"
    rustgrad.save({**_numpy_objects(), "t": rustgrad.arange(4.0)}, q)
    np_globals = NP_GLOBALS + [
        np.dtypes.Int64DType, np.dtypes.Complex64DType, np.dtypes.Float16DType, np.dtypes.UInt16DType
    ]
    with torch.serialization.safe_globals(np_globals):
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


_CRAFTED = [
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (3,), _F4, False, b"12345678")), "needs 12 bytes"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (10**15, 10**15), _F4, False, b"1234")), "needs"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (-1,), _F4, False, b"1234")), "invalid array shape"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), "f4", False, b"12345678")), "numpy.dtype"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype("O"), False, [1, 2])), "object"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype("U2"), False, "abcd")), "string"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), np.dtype([("x", "f4")]), False, b"12345678")), "Unsupported|structured|void"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (1,), np.dtype("M8[s]"), False, b"12345678")), "datetime"),
    (_Craft(_REC, (np.ndarray, (0,), b"b"), (1, (2,), _F4, 1, b"12345678")), "is_fortran must be a bool"),
    (_Craft(_REC, (np.ndarray, (0,), b"b")), "never initialized|not initialized"),
    (_Craft(_REC, (np.matrix, (0,), b"b"), (1, (1,), _F4, False, b"1234")), "numpy.matrix|only numpy.ndarray"),
    (_Craft(np.ndarray, ((10**12,),)), "checked reconstruction stand-ins"),
    (_Craft(np._core.multiarray.scalar, ("f8", b"12345678")), "numpy.dtype"),
    (_Craft(np._core.multiarray.scalar, (_F4, b"12")), "needs 4 bytes"),
    (_Craft(np._core.multiarray.scalar, (np.dtype("O"), [1])), "object"),
    (_Craft(np._core.numeric._frombuffer, (b"123", _F4, (1,), "C")), "needs 4 bytes"),
    (_Craft(np._core.numeric._frombuffer, (b"1234", _F4, (1,), "K")), "invalid order"),
    (_Craft(bytes, (10**12,)), "may only copy bytes"),
    # other NumPy functions stay refused, even ones that look harmless
    (_Craft(np.frombuffer, (b"1234", _F4)), "numpy.frombuffer|checked reconstruction stand-ins"),
    (_Craft(np.load, ("x.npy",)), "numpy.*load|checked reconstruction stand-ins"),
]


@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow-listed"])
@pytest.mark.parametrize("obj,msg", _CRAFTED)
def test_crafted_numpy_pickles_raise_unpickling_error(obj, msg, allow):
    # By default, and also when the user allow-lists more NumPy names than the defaults: the
    # stand-ins still check everything and other NumPy callables are never called.
    allowed = NP_GLOBALS + [np.matrix, np.dtypes.StrDType, np.dtypes.ObjectDType, np.dtypes.VoidDType]
    allowed += [np.frombuffer, np.load] if allow else []
    with S.safe_globals(allowed if allow else []):
        with pytest.raises(pickle.UnpicklingError, match=msg) as ei:
            _load(_archive({"x": obj}))
    assert str(ei.value).startswith("Weights only load failed")


def _reconstruct_ops():
    # _reconstruct(ndarray, (0,), b"b") -> a stand-in awaiting BUILD (protocol 2 opcodes)
    return (
        b"cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R"
    )


# BUILD state (1, (1,), dtype("<f4"), False, b"\x00\x00\x80?"), i.e. the array [1.0], then BUILD
_F4_STATE = (
    b"(K\x01K\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R"
    b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    b"\x89C\x04\x00\x00\x80?tb"
)


@pytest.mark.parametrize(
    "data,msg",
    [
        # a well-formed one-element array, as a control
        (b"\x80\x03" + _reconstruct_ops() + _F4_STATE + b".", None),
        # the stand-in put in a tuple (MARK ... TUPLE) before it is built, then built via the memo
        (b"\x80\x03(" + _reconstruct_ops() + b"q\x00th\x00" + _F4_STATE + b"0.", "stored before BUILD"),
        # appended to a list before BUILD
        (b"\x80\x03]" + _reconstruct_ops() + b"q\x00ah\x00" + _F4_STATE + b"0.", "stored before BUILD"),
        # passed to an allowed callable (slice, OrderedDict) before BUILD
        (b"\x80\x03cbuiltins\nslice\n" + _reconstruct_ops() + b"q\x00\x85Rh\x00" + _F4_STATE + b"0.",
         "stored before BUILD"),
        (b"\x80\x03ccollections\nOrderedDict\nK\x01" + _reconstruct_ops() + b"q\x00\x86\x85\x85R"
         b"h\x00" + _F4_STATE + b"0.", "stored before BUILD"),
        # never built and never memoized, just dropped into a list
        (b"\x80\x03]" + _reconstruct_ops() + b"a.", "never initialized"),
        # DUP (which Python's pickler never writes) is refused, as by torch
        (b"\x80\x03" + _reconstruct_ops() + b"2" + _F4_STATE + b"\x86.", "DUP"),
        # NEWOBJ of a NumPy class, BUILD on a finished array
        (b"\x80\x03cnumpy\nndarray\nK\x01\x85\x81.", "Can only create new object"),
        (b"\x80\x03" + _reconstruct_ops() + _F4_STATE + b"}b.", "Can only build"),
        # a NumPy dtype class named directly is not in the default table
        (b"\x80\x03cnumpy.dtypes\nFloat32DType\n.", "Float32DType was not an allowed global"),
    ],
)
def test_crafted_numpy_opcode_streams(data, msg):
    if msg is None:
        got = _load(_archive(data))
        assert got.dtype == np.float32 and got.tolist() == [1.0]
        return
    with pytest.raises(pickle.UnpicklingError, match=msg) as ei:
        _load(_archive(data))
    assert str(ei.value).startswith("Weights only load failed")


def test_blocked_modules_stay_blocked_even_if_allowed():
    with S.safe_globals([os.system, (os.system, "posix.system"), (os.system, "os.system")]):
        with pytest.raises(pickle.UnpicklingError, match="is blocked"):
            _load(_archive({"x": _Craft(os.system, ("echo pwned",))}))


def test_safe_globals_tuple_form_and_validation():
    # the tuple form names an object pickled under another path
    data = pickle.dumps({"p": _Point(1, 2)}, protocol=2).replace(b"_Point", b"OldPoint")
    with pytest.raises(pickle.UnpicklingError, match="OldPoint"):
        _load(_archive(data))
    with S.safe_globals([(_Point, f"{__name__}.OldPoint")]):
        p = _load(_archive(data))["p"]
    assert isinstance(p, _Point) and (p.x, p.y) == (1, 2)
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
