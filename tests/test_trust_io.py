"""Checkpoints are untrusted input; saves are faithful and atomic.

* ``rustgrad.load`` / ``load_safetensors`` check every record and tensor layout against its storage
  (exact integer arithmetic) before building a tensor: crafted metadata raises RuntimeError naming
  the record, corrupted files raise (checked in a subprocess, so a crash fails the test instead of
  killing the run), and nothing ever reads outside a storage.
* ``rustgrad.save`` writes views with their storage offset/strides over one shared record, so views,
  expanded and non-contiguous tensors round-trip through rustgrad and torch, and still share.
* saves are atomic, clean up after killed saves, and create files with the usual permissions.
"""

import collections
import io
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
import rustgrad
from conftest import requires_torch, torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rustgrad.serialization import load_safetensors, save_safetensors

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

INT64_MAX = 2**63 - 1


# -- writing torch-format archives with arbitrary (bad) metadata, no torch needed ---------------
class _G:
    """A global pickled by name (``module.name``)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *a):  # pickle wants reduce functions to be callable
        raise AssertionError


class _S:
    """A storage reference: becomes the persistent id ('storage', torch.<cls>, key, 'cpu', numel)."""

    def __init__(self, key, numel, cls="FloatStorage"):
        self.key, self.numel, self.cls = key, numel, cls


class _T:
    """A tensor: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(
        self, storage, offset, size, stride, requires_grad=False, fn="_rebuild_tensor_v2", args=None
    ):
        self.fn = fn
        self.args = (
            args
            if args is not None
            else (storage, offset, size, stride, requires_grad, collections.OrderedDict())
        )

    def __reduce__(self):
        return (_G("torch._utils", self.fn), self.args)


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def _save_g(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_G] = _save_g

    def persistent_id(self, obj):
        if isinstance(obj, _S):
            return ("storage", _G("torch", obj.cls), obj.key, "cpu", obj.numel)
        return None


def write_archive(path, obj, records):
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ckpt/data.pkl", buf.getvalue())
        zf.writestr("ckpt/byteorder", "little")
        for key, raw in records.items():
            zf.writestr(f"ckpt/data/{key}", raw)
        zf.writestr("ckpt/version", "3\n")


F6 = np.arange(6, dtype="<f4")  # the storage most crafted files use: 6 floats, 24 bytes


def _one(tensor, records=None):
    return {"t": tensor}, records if records is not None else {"0": F6.tobytes()}


def test_crafted_archive_baseline(tmp_path):
    p = tmp_path / "ok.pt"
    obj, rec = _one(_T(_S("0", 6), 1, (2, 2), (3, 1)))
    write_archive(p, obj, rec)
    np.testing.assert_array_equal(rustgrad.load(p)["t"].numpy(), [[1, 2], [4, 5]])


BAD_METADATA = {
    # name: (tensor, records or None, message regex)
    # (byte storages, so that these strides pass the byte-stride check and reach the bounds check)
    "stride_2_62_overflows": (_T(_S("0", 24, "ByteStorage"), 0, (2,), (2**62,)), None, "out of bounds"),
    "strides_wrap_around_2_64": (
        _T(_S("0", 24, "ByteStorage"), 0, (5, 5), (2**62, 2**62)),
        None,
        "out of bounds",
    ),
    "stride_int64_max_wraps": (_T(_S("0", 24, "ByteStorage"), 1, (3,), (2**63 - 1,)), None, "out of bounds"),
    "float_stride_2_62": (_T(_S("0", 6), 0, (2,), (2**62,)), None, "overflows int64"),
    "stride_beyond_int64": (_T(_S("0", 6), 0, (2,), (2**64,)), None, "stride"),
    "byte_stride_beyond_int64_size_1": (_T(_S("0", 6), 0, (1,), (2**62,)), None, "overflows int64"),
    "byte_stride_beyond_int64_empty": (_T(_S("0", 6), 0, (0,), (2**62,)), None, "overflows int64"),
    "negative_stride": (_T(_S("0", 6), 5, (2,), (-1,)), None, "stride"),
    "offset_past_storage": (_T(_S("0", 6), 6, (1,), (1,)), None, "out of bounds"),
    "offset_2_63": (_T(_S("0", 6), 2**63, (1,), (1,)), None, "offset"),
    "negative_offset": (_T(_S("0", 6), -1, (1,), (1,)), None, "offset"),
    "empty_tensor_offset_past_storage": (_T(_S("0", 6), 7, (0,), (1,)), None, "past the end"),
    "one_element_too_many": (_T(_S("0", 6), 1, (2, 3), (3, 1)), None, "out of bounds"),
    "huge_shape_stride_0": (_T(_S("0", 6), 0, (2**40, 2**40), (0, 0)), None, "too large"),
    "huge_shape_with_zero": (_T(_S("0", 6), 0, (2**62, 2**62, 0), (1, 1, 1)), None, "too large"),
    "huge_shape_bytes_overflow": (_T(_S("0", 6), 0, (2**62,), (0,)), None, "overflow"),
    "negative_size": (_T(_S("0", 6), 0, (-1, 2), (1, 1)), None, "negative"),
    "size_stride_lengths_differ": (_T(_S("0", 6), 0, (2, 3), (1,)), None, "different lengths"),
    "size_not_ints": (_T(_S("0", 6), 0, (2.0,), (1,)), None, "size"),
    "size_not_a_tuple": (_T(_S("0", 6), 0, "ab", (1,)), None, "size"),
    "too_many_dims": (_T(_S("0", 6), 0, (1,) * 65, (1,) * 65), None, "dimensions"),
    "requires_grad_not_bool": (_T(_S("0", 6), 0, (2,), (1,), requires_grad="yes"), None, "requires_grad"),
    "storage_not_a_storage": (_T(None, 0, (2,), (1,), args=(7, 0, (2,), (1,), False, None)), None, "storage"),
    "record_too_short": (_T(_S("0", 6), 0, (6,), (1,)), {"0": F6.tobytes()[:20]}, "declares"),
    "record_too_long": (_T(_S("0", 6), 0, (6,), (1,)), {"0": F6.tobytes() + b"\0" * 4}, "declares"),
    "numel_says_more_than_record": (_T(_S("0", 7), 0, (7,), (1,)), None, "declares"),
    "numel_huge": (_T(_S("0", 2**62), 0, (6,), (1,)), None, "element count|declares"),
    "numel_negative": (_T(_S("0", -6), 0, (1,), (1,)), None, "element count"),
    "record_not_divisible": (_T(_S("0", 6, "DoubleStorage"), 0, (3,), (1,)), None, "declares"),
    "record_missing": (_T(_S("9", 6), 0, (6,), (1,)), None, "not in the archive"),
    "unsupported_storage_dtype": (
        _T(_S("0", 3, "ComplexFloatStorage"), 0, (3,), (1,)),
        None,
        "ComplexFloatStorage",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_crafted_bad_metadata_raises_runtime_error(tmp_path, case):
    tensor, records, msg = BAD_METADATA[case]
    p = tmp_path / f"{case}.pt"
    write_archive(p, *_one(tensor, records))
    with pytest.raises(RuntimeError, match=msg) as ei:
        rustgrad.load(p)
    assert p.name in str(ei.value)  # names the file ...
    if case not in ("storage_not_a_storage", "unsupported_storage_dtype"):
        assert "data/" in str(ei.value)  # ... and the storage record


def test_conflicting_references_to_one_record(tmp_path):
    p = tmp_path / "conflict.pt"
    obj = [_T(_S("0", 6), 0, (6,), (1,)), _T(_S("0", 3, "DoubleStorage"), 0, (3,), (1,))]
    write_archive(p, obj, {"0": F6.tobytes()})
    with pytest.raises(RuntimeError, match="data/0"):
        rustgrad.load(p)


def test_parameter_of_non_tensor_refused(tmp_path):
    p = tmp_path / "param.pt"
    write_archive(
        p, {"w": _T(None, 0, (), (), fn="_rebuild_parameter", args=("not a tensor", True, None))}, {}
    )
    with pytest.raises(RuntimeError, match="_rebuild_parameter"):
        rustgrad.load(p)


def test_bool_storage_bytes_are_normalised(tmp_path):
    # Bytes other than 0/1 in a bool record must not reach the core as invalid bools.
    p = tmp_path / "bool.pt"
    write_archive(p, {"b": _T(_S("0", 4, "BoolStorage"), 0, (4,), (1,))}, {"0": bytes([0, 1, 2, 255])})
    b = rustgrad.load(p)["b"]
    assert b.tolist() == [False, True, True, True]
    assert b.numpy().view(np.uint8).tolist() == [0, 1, 1, 1]


def _reference_indices(size, stride, offset, n, itemsize):
    """Reference: the storage index of every element of the view (exact Python ints; sizes here
    are small), or None where the layout is invalid (PyTorch's rules, plus byte strides that must
    fit in int64)."""
    if any(s < 0 for s in size) or any(s < 0 or s * itemsize > INT64_MAX for s in stride) or offset < 0:
        return None
    idx = np.full((), offset, dtype=object)
    for s, st_ in zip(size, stride):
        idx = idx[..., None] + np.arange(s, dtype=object) * st_
    if idx.size == 0:
        return idx if offset <= n else None
    return idx if max(idx.reshape(-1)) < n else None


_dim = st.integers(0, 4)
_stride = st.one_of(
    st.integers(0, 8), st.sampled_from([2**31, 2**32 - 1, 2**61, 2**62, 2**63 - 1, 3 * 2**61])
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    nd=st.integers(0, 3),
    data=st.data(),
    offset=st.one_of(st.integers(0, 30), st.sampled_from([2**62, 2**63 - 1])),
    n=st.integers(0, 24),
    dtype=st.sampled_from([("FloatStorage", "<f4"), ("ByteStorage", "u1"), ("DoubleStorage", "<f8")]),
)
def test_layout_check_matches_reference(tmp_path, nd, data, offset, n, dtype):
    size = tuple(data.draw(_dim) for _ in range(nd))
    stride = tuple(data.draw(_stride) for _ in range(nd))
    base = (np.arange(n) + 100).astype(dtype[1])
    p = tmp_path / "prop.pt"
    write_archive(p, {"t": _T(_S("0", n, dtype[0]), offset, size, stride)}, {"0": base.tobytes()})
    idx = _reference_indices(size, stride, offset, n, base.itemsize)
    if idx is not None:
        t = rustgrad.load(p)["t"]
        assert tuple(t.shape) == size and t.stride() == stride and t.storage_offset() == offset
        np.testing.assert_array_equal(t.numpy(), base[idx.astype(np.int64)] if idx.size else np.zeros(size))
    else:
        with pytest.raises(RuntimeError):
            rustgrad.load(p)


# -- corrupted files, in a subprocess ----------------------------------------------------------
_FUZZ_CHILD = r"""
import io, json, random, sys, zipfile
import numpy as np
import rustgrad
from rustgrad.serialization import load_safetensors, save_safetensors

mode, path, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
base = rustgrad.from_numpy(np.arange(1000, 1064, dtype=np.float32))
markers = set(range(1000, 1064))
obj = {"base": base, "view": base[5:40:3], "t": base.reshape(8, 8).t(), "e": base[:3].expand(4, 3),
       "i": rustgrad.arange(1000, 1010), "meta": {"lr": 0.5, "name": "x"}}
expected = {k: (v.numpy().tolist() if isinstance(v, rustgrad.Tensor) else v) for k, v in obj.items()}
if mode == "st":
    save_safetensors({k: v for k, v in obj.items() if isinstance(v, rustgrad.Tensor)}, path)
    loader = load_safetensors
else:
    rustgrad.save(obj, path)
    loader = rustgrad.load
good = open(path, "rb").read()
hlen = int.from_bytes(good[:8], "little") + 8 if mode == "st" else None


def variants():
    if mode == "truncate":
        for n in sorted(set(rng.randrange(len(good)) for _ in range(count)) | {0, 1, 21, 22, len(good) - 1}):
            yield "cut%d" % n, good[:n]
    elif mode == "flip":
        for _ in range(count):
            b = bytearray(good)
            for _ in range(rng.choice([1, 1, 1, 2, 8])):
                b[rng.randrange(len(b))] ^= rng.randrange(1, 256)
            yield "flip", bytes(b)
    elif mode == "pickle":  # garble data.pkl but keep the zip valid (CRC recomputed)
        zf = zipfile.ZipFile(io.BytesIO(good))
        pkl = zf.read("archive/data.pkl")
        for _ in range(count):
            b = bytearray(pkl)
            for _ in range(rng.choice([1, 1, 2, 4])):
                b[rng.randrange(len(b))] ^= rng.randrange(1, 256)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as z2:
                for info in zf.infolist():
                    z2.writestr(info.filename, bytes(b) if info.filename.endswith("data.pkl") else zf.read(info))
            yield "pickle", out.getvalue()
    elif mode == "st":  # safetensors has no checksum: garble the header only
        for _ in range(count):
            b = bytearray(good)
            for _ in range(rng.choice([1, 1, 2])):
                b[rng.randrange(hlen)] ^= rng.randrange(1, 256)
            yield "header", bytes(b)


def walk(x):
    if isinstance(x, rustgrad.Tensor):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, (list, tuple, set, frozenset)):
        for v in x:
            yield from walk(v)


stats = {"raised": {}, "ok": 0, "wrong": []}
for i, (what, blob) in enumerate(variants()):
    with open(path + ".bad", "wb") as f:
        f.write(blob)
    print(i, what, flush=True)  # the last line tells which variant crashed, if one does
    try:
        got = loader(path + ".bad")
    except Exception as e:
        name = type(e).__name__
        stats["raised"][name] = stats["raised"].get(name, 0) + 1
        continue
    if mode in ("truncate", "flip"):  # the zip CRC covers everything that matters
        same = isinstance(got, dict) and sorted(got) == sorted(expected) and all(
            (got[k].numpy().tolist() if isinstance(got[k], rustgrad.Tensor) else got[k]) == v
            for k, v in expected.items())
        if not same:
            stats["wrong"].append(i)
    else:  # whatever loads must only hold values from the storages, never heap garbage
        for t in walk(got):
            vals = t.numpy().reshape(-1).tolist()
            if t.dtype in (rustgrad.float32, rustgrad.int64) and not set(vals) <= markers:
                stats["wrong"].append(i)
    stats["ok"] += 1
print("RESULT " + json.dumps(stats), flush=True)
"""


@pytest.mark.parametrize("mode,count", [("truncate", 60), ("flip", 400), ("pickle", 300), ("st", 300)])
def test_corrupted_files_never_crash(tmp_path, mode, count):
    script = tmp_path / "fuzz.py"
    script.write_text(_FUZZ_CHILD)
    ext = ".safetensors" if mode == "st" else ".pt"
    r = subprocess.run(
        [sys.executable, str(script), mode, str(tmp_path / f"good{ext}"), "1234", str(count)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    tail = (r.stdout[-2000:], r.stderr[-2000:])
    assert r.returncode == 0, f"loader crashed (rc={r.returncode}) on variant: {tail}"
    assert "SystemError" not in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    stats = json.loads(r.stdout.rsplit("RESULT ", 1)[1])
    assert stats["wrong"] == [], stats
    if mode == "truncate":  # a truncated checkpoint is a corrupt checkpoint: RuntimeError
        assert set(stats["raised"]) == {"RuntimeError"}, stats
        assert stats["ok"] == 0
    else:
        assert sum(stats["raised"].values()) > 0


def test_pickle_with_lying_bytearray8_length(tmp_path):
    # The C unpickler would allocate the declared length first (and trip a CPython bug on the
    # short read); the loader refuses it up front.
    p = tmp_path / "ba8.pt"
    pkl = b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"xx."
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
    code = f"import rustgrad, pickle\ntry:\n    rustgrad.load({str(p)!r})\nexcept pickle.UnpicklingError as e:\n    print('refused', e)\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "refused" in r.stdout and "bytearray8" in r.stdout, (r.stdout, r.stderr)
    assert r.stderr == "", r.stderr


def test_zip_level_corruption_is_runtime_error(tmp_path):
    p = tmp_path / "c.pt"
    rustgrad.save({"w": rustgrad.arange(100.0)}, p)
    raw = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("archive/data/0")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + 17] ^= 0xFF  # inside the tensor data: the CRC check catches it
    p.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="CRC|data/0"):
        rustgrad.load(p)
    p.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    with pytest.raises(RuntimeError, match="data.pkl"):
        rustgrad.load(p)


# -- safetensors: crafted headers ---------------------------------------------------------------
def _st(path, header, data):
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)


ST_BAD = {
    "huge_shape": (
        {"a": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 16]}},
        16,
        "too large|data_offsets",
    ),
    "shape_overflows_int64": (
        {"a": {"dtype": "F32", "shape": [2**40, 2**40, 0], "data_offsets": [0, 0]}},
        0,
        "too large",
    ),
    "negative_shape": ({"a": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}, 16, "negative"),
    "shape_not_ints": ({"a": {"dtype": "F32", "shape": [2.0, 2], "data_offsets": [0, 16]}}, 16, "size"),
    "shape_missing": ({"a": {"dtype": "F32", "data_offsets": [0, 16]}}, 16, "size"),
    "offsets_past_end": ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, 16, "data_offsets"),
    "offsets_reversed": ({"a": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}}, 16, "data_offsets"),
    "offsets_not_ints": (
        {"a": {"dtype": "F32", "shape": [4], "data_offsets": ["0", 16]}},
        16,
        "data_offsets",
    ),
    "overlap": (
        {
            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
        },
        16,
        "overlaps",
    ),
    "gap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, 16, "gaps"),
    "trailing_bytes": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, 16, "cover"),
    "unknown_dtype": ({"a": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}, 16, "dtype"),
    "entry_not_object": ({"a": [1, 2]}, 16, "entry"),
    "header_not_object": ([1, 2], 16, "header"),
    "bad_metadata": ({"__metadata__": {"a": 1}}, 0, "metadata"),
}


@pytest.mark.parametrize("case", sorted(ST_BAD))
def test_safetensors_crafted_headers(tmp_path, case):
    header, nbytes, msg = ST_BAD[case]
    p = tmp_path / f"{case}.safetensors"
    _st(p, header, np.arange(nbytes, dtype=np.uint8).tobytes())
    with pytest.raises(RuntimeError, match=msg):
        load_safetensors(p)


def test_safetensors_header_length_lies(tmp_path):
    p = tmp_path / "h.safetensors"
    p.write_bytes(struct.pack("<Q", 2**64 - 1) + b"{}")
    with pytest.raises(RuntimeError, match="header"):
        load_safetensors(p)
    p.write_bytes(b"\x01\x02")
    with pytest.raises(RuntimeError, match="small"):
        load_safetensors(p)


def test_safetensors_empty_and_zero_sized(tmp_path):
    p = tmp_path / "z.safetensors"
    _st(
        p,
        {
            "a": {"dtype": "F32", "shape": [0, 3], "data_offsets": [0, 0]},
            "b": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
        },
        b"\x07\x08",
    )
    got = load_safetensors(p)
    assert tuple(got["a"].shape) == (0, 3) and got["b"].tolist() == [7, 8]


# -- saving views ------------------------------------------------------------------------------
def _views():
    a = rustgrad.arange(24.0)
    m = a.reshape(4, 6)
    return {
        "tail": a[5:],
        "step": a[3:20:4],
        "transpose": m.t(),
        "row": m[2],
        "col": m[:, 3],
        "block": m[1:3, 2:5],
        "expand": rustgrad.arange(3.0).expand(4, 3),
        "scalar_expand": rustgrad.tensor(7.0).expand(2, 5),
        "unsqueeze_expand": rustgrad.arange(4.0)[1:].unsqueeze(1).expand(3, 2),
        "empty_tail": a[24:],
        "empty_mid": m[:, 2:2],
        "int_view": rustgrad.arange(10)[2::3],
        "bool_view": (rustgrad.arange(6) % 2 == 0)[1:],
        "scalar_select": a[7],
        "permute": rustgrad.arange(24).reshape(2, 3, 4).permute(2, 0, 1)[1:],
    }


@pytest.mark.parametrize("name", sorted(_views()))
def test_view_round_trips(tmp_path, name):
    t = _views()[name]
    p = tmp_path / "v.pt"
    rustgrad.save({"x": t}, p)
    back = rustgrad.load(p)["x"]
    assert back.dtype == t.dtype and tuple(back.shape) == tuple(t.shape)
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    assert back.stride() == t.stride()
    if torch is not None:
        tt = torch.load(p, weights_only=True)["x"]
        np.testing.assert_array_equal(tt.numpy(), t.numpy())
        assert tuple(tt.stride()) == t.stride()


def test_all_views_together_share_storages(tmp_path):
    a = rustgrad.arange(24.0)
    obj = {
        "a": a,
        "m": a.reshape(4, 6),
        "t": a.reshape(4, 6).t(),
        "tail": a[20:],
        "mid": a[6:12],
        "e": a[:2].expand(3, 2),
    }
    p = tmp_path / "s.pt"
    rustgrad.save(obj, p)
    with zipfile.ZipFile(p) as zf:
        assert [n for n in zf.namelist() if "/data/" in n] == ["archive/data/0"]
    back = rustgrad.load(p)
    for k, v in obj.items():
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    assert back["tail"].data_ptr() == back["a"].data_ptr() + 20 * 4
    back["a"].mul_(-1)
    assert back["tail"].tolist() == [-20.0, -21.0, -22.0, -23.0]
    assert back["t"][1, 0].item() == -1.0 and back["e"][2, 1].item() == -1.0
    if torch is not None:
        got = torch.load(p, weights_only=True)
        ptrs = {v.untyped_storage().data_ptr() for v in got.values()}
        assert len(ptrs) == 1
        for k, v in obj.items():
            np.testing.assert_array_equal(got[k].numpy(), v.numpy())


def test_views_only_store_what_they_reach(tmp_path):
    # Two views of one big storage (the base itself not saved): one record covering both, offsets
    # relative to it, still aliasing after loading.
    big = rustgrad.arange(100_000.0)
    a, b = big[50_000:50_010], big[50_005:50_020]
    p = tmp_path / "part.pt"
    rustgrad.save({"a": a, "b": b}, p)
    with zipfile.ZipFile(p) as zf:
        assert zf.getinfo("archive/data/0").file_size == 20 * 4
    back = rustgrad.load(p)
    assert back["a"].tolist() == a.tolist() and back["b"].tolist() == b.tolist()
    back["b"].zero_()
    assert back["a"].tolist()[5:] == [0.0] * 5


def test_parameter_view_and_requires_grad(tmp_path):
    from rustgrad import nn

    w = nn.Parameter(rustgrad.arange(12.0).reshape(3, 4)[:, 1:])
    p = tmp_path / "p.pt"
    rustgrad.save({"w": w, "g": rustgrad.arange(4.0, requires_grad=True)[1:]}, p)
    back = rustgrad.load(p)
    assert isinstance(back["w"], nn.Parameter) and back["w"].requires_grad
    np.testing.assert_array_equal(back["w"].detach().numpy(), w.detach().numpy())
    assert back["g"].tolist() == [1.0, 2.0, 3.0]
    if torch is not None:
        got = torch.load(p, weights_only=True)
        assert isinstance(got["w"], torch.nn.Parameter)
        np.testing.assert_array_equal(got["w"].detach().numpy(), w.detach().numpy())


def test_tensor_made_while_pickling_is_saved_compactly(tmp_path):
    class Fresh:
        def __reduce__(self):  # a new tensor every time it is pickled
            return (collections.OrderedDict, ([("v", rustgrad.arange(10.0)[2::3])],))

    p = tmp_path / "f.pt"
    rustgrad.save({"f": Fresh()}, p)
    assert rustgrad.load(p)["f"]["v"].tolist() == [2.0, 5.0, 8.0]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    data=st.data(),
)
def test_random_views_round_trip(tmp_path, shape, data):
    base = rustgrad.arange(float(np.prod(shape))).reshape(*shape)
    views = {}
    for i in range(3):
        v = base
        for d, n in enumerate(shape):
            lo = data.draw(st.integers(0, n - 1))
            hi = data.draw(st.integers(lo, n))
            step = data.draw(st.integers(1, 3))
            v = v.narrow(d, lo, hi - lo) if step == 1 else v[(slice(None),) * d + (slice(lo, hi, step),)]
        if data.draw(st.booleans()) and v.dim() >= 2:
            v = v.transpose(0, 1)
        views[f"v{i}"] = v
    p = tmp_path / "r.pt"
    rustgrad.save(views, p)
    back = rustgrad.load(p)
    for k, v in views.items():
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
    if torch is not None:
        got = torch.load(p, weights_only=True)
        for k, v in views.items():
            np.testing.assert_array_equal(got[k].numpy(), v.numpy())


@requires_torch
def test_torch_saved_views_load(tmp_path):
    base = torch.arange(30, dtype=torch.float32)
    obj = {
        "tail": base[5:],
        "step": base[1:25:4],
        "t": base[:12].reshape(3, 4).t(),
        "e": base[2:5].expand(2, 3),
        "empty": base[30:],
        "sep": torch.arange(6, dtype=torch.int64).reshape(2, 3)[:, 1:],
        "base": base,
    }
    p = tmp_path / "theirs.pt"
    torch.save(obj, p)
    got = rustgrad.load(p)
    for k, v in obj.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy())
        assert got[k].stride() == tuple(v.stride()) and got[k].storage_offset() == v.storage_offset()
    got["base"].add_(1000)
    assert got["tail"][0].item() == 1005.0 and got["e"][1, 2].item() == 1004.0


# -- atomic saves ------------------------------------------------------------------------------
def _temps(d):
    return sorted(n for n in os.listdir(d) if n.startswith(".tmp-"))


_KILL_CHILD = r"""
import sys
import numpy as np
import rustgrad
path, start = sys.argv[1], int(sys.argv[2])
big = np.arange(3_000_000, dtype=np.float32)
print("ready", flush=True)
i = start
while True:
    i += 1
    rustgrad.save({"step": i, "w": rustgrad.from_numpy(big + i), "v": rustgrad.full((5,), float(i))[1:]}, path)
"""


def _check_intact(path):
    ck = rustgrad.load(path)
    step = ck["step"]
    w = ck["w"].numpy()
    assert w.shape == (3_000_000,) and w[0] == step and w[-1] == 3_000_000 - 1 + step
    assert ck["v"].tolist() == [float(step)] * 4
    return step


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_saves_keep_old_file_and_leave_no_temps(tmp_path):
    path = tmp_path / "ckpt.pt"
    big = np.arange(3_000_000, dtype=np.float32)
    rustgrad.save({"step": 0, "w": rustgrad.from_numpy(big), "v": rustgrad.zeros(5)[1:]}, path)
    script = tmp_path / "saver.py"
    script.write_text(_KILL_CHILD)
    rng = np.random.default_rng(0)
    last, leftovers = 0, 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, str(script), str(path), str(last)], stdout=subprocess.PIPE)
        try:
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(float(rng.uniform(0.05, 0.6)))
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        leftovers = max(leftovers, len(_temps(tmp_path)))
        assert len(_temps(tmp_path)) <= 1  # each save removed what the previous killed one left
        last = _check_intact(path)  # the old (or a newer, complete) checkpoint, never a torn one
    rustgrad.save({"step": -1, "w": rustgrad.from_numpy(big - 1), "v": rustgrad.full((5,), -1.0)[1:]}, path)
    assert set(os.listdir(tmp_path)) == {"ckpt.pt", "saver.py"}  # the next save removed the leftover
    assert leftovers >= 1  # (the kills did land inside saves: the test exercised the cleanup)
    assert _check_intact(path) == -1


@pytest.mark.skipif(fcntl is None, reason="needs flock")
def test_stale_temp_cleanup_is_selective(tmp_path):
    d = tmp_path
    stale = [".tmp-ckpt.pt-abcdefgh", ".tmp-ckpt.pt-0_9zzzzz"]
    keep = [
        ".tmp-other.pt-abcdefgh",  # another target's
        ".tmp-ckpt.pt-short",  # not our pattern
        ".tmp-ckpt.pt-abcdefgh.bak",
        "ckpt.pt-abcdefgh",
        "notes.txt",
    ]
    for n in stale + keep:
        (d / n).write_bytes(b"partial")
    live = d / ".tmp-ckpt.pt-live1234"  # a save in progress elsewhere holds its lock
    live.write_bytes(b"in progress")
    os.symlink(d / "notes.txt", d / ".tmp-ckpt.pt-symlink1")
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        rustgrad.save({"a": rustgrad.ones(2)}, d / "ckpt.pt")
    finally:
        os.close(fd)
    names = set(os.listdir(d))
    assert not names & set(stale)
    assert set(keep) | {"ckpt.pt", live.name, ".tmp-ckpt.pt-symlink1"} == names
    assert (d / "notes.txt").read_bytes() == b"partial"
    rustgrad.save({"a": rustgrad.ones(2)}, d / "ckpt.pt")  # now unlocked: a leftover, removed
    assert live.name not in os.listdir(d)


def test_concurrent_saves_to_one_path(tmp_path):
    # Saves racing on one target never delete each other's live temporary file.
    path = tmp_path / "c.pt"
    errors = []

    def saver(k):
        try:
            for i in range(15):
                rustgrad.save({"k": k, "i": i, "w": rustgrad.full((20_000,), float(k))}, path)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=saver, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    ck = rustgrad.load(path)
    assert ck["w"].tolist() == [float(ck["k"])] * 20_000
    assert _temps(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_file_permissions_follow_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        rustgrad.save({"a": rustgrad.ones(2)}, tmp_path / "a.pt")
        save_safetensors({"a": rustgrad.ones(2)}, tmp_path / "a.safetensors")
    finally:
        os.umask(old)
    for n in ("a.pt", "a.safetensors"):
        assert (os.stat(tmp_path / n).st_mode & 0o777) == 0o666 & ~umask, n


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_overwrite_keeps_mode_and_writes_through_symlink(tmp_path):
    p = tmp_path / "a.pt"
    rustgrad.save({"a": rustgrad.ones(2)}, p)
    os.chmod(p, 0o640)
    rustgrad.save({"a": rustgrad.zeros(2)}, p)
    assert os.stat(p).st_mode & 0o777 == 0o640 and rustgrad.load(p)["a"].tolist() == [0.0, 0.0]
    link = tmp_path / "latest.pt"
    os.symlink(p, link)
    rustgrad.save({"a": rustgrad.full((2,), 3.0)}, link)
    assert os.path.islink(link) and rustgrad.load(p)["a"].tolist() == [3.0, 3.0]
    assert _temps(tmp_path) == []
