"""The ``weights_only`` unpickler and its allow-list, in the shape of PyTorch's
``torch/_weights_only_unpickler.py`` (PyTorch 2.6+ semantics).

What a weights-only load may do, opcode by opcode:

- ``GLOBAL`` resolves a name only if it is in the built-in table (containers, storages, the
  tensor rebuild functions: supplied by the caller) or was allow-listed by the user with
  :func:`add_safe_globals` / :class:`safe_globals`. Modules ``sys``/``os``/``posix``/``nt`` are
  refused even when allow-listed. Anything else raises ``UnpicklingError`` with PyTorch's text.
- ``REDUCE`` calls only a callable that ``GLOBAL`` resolved; ``NEWOBJ`` makes only allow-listed
  classes; ``BUILD`` sets state only on ``OrderedDict``, NumPy stand-ins and allow-listed types;
  ``APPEND`` only on lists, ``SETITEM`` only on dicts; ``INST``/``OBJ``/``EXT*`` and ``DUP`` are
  refused (as in PyTorch; Python's pickler never writes ``DUP``).

NumPy differs from PyTorch on purpose. PyTorch 2.15 refuses NumPy globals by default and, once
the user allow-lists them, calls NumPy's own ``_reconstruct``/``dtype``/``scalar``/``_frombuffer``
and ``ndarray.__setstate__`` with whatever the file says. Here NumPy's reconstruction names (NumPy
1.x ``numpy.core.*`` and 2.x ``numpy._core.*`` spellings, see :func:`numpy_default_globals`) are
in the default table, because they are never called: each is resolved to a checked stand-in that
accepts plain numeric dtypes only (no object, string, void, datetime or structured dtypes),
requires the shape to be a tuple of non-negative ints and the byte count to match shape x itemsize
exactly, and builds the array with ``np.frombuffer`` on those bytes. So NumPy arrays, numeric
dtypes and NumPy scalars load by default, with the values PyTorch (or plain ``pickle``) would
give, and a crafted file raises ``UnpicklingError`` without NumPy ever seeing its data. Every other
NumPy global stays refused, and NumPy callables are never called directly (REDUCE/NEWOBJ/BUILD on
a NumPy object without a stand-in is refused even when the user allow-lists it).

This module uses the pure-Python ``pickle._Unpickler`` machinery so that each risky opcode can be
replaced; the data of a checkpoint lives in separate zip records, so ``data.pkl`` is small and the
speed of the pure-Python loop does not matter.
"""

import collections
import math
import pickle
from pickle import UnpicklingError

import numpy as np

__all__ = [
    "add_safe_globals",
    "clear_safe_globals",
    "get_safe_globals",
    "safe_globals",
    "WeightsOnlyUnpickler",
    "weights_only_message",
]

# Modules never allowed, even if the user allow-lists a name in them (as PyTorch).
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")

# -- the user's allow-list -------------------------------------------------------------------
_user_safe_globals = set()


def add_safe_globals(safe_globals):
    """Mark globals (classes or functions) as safe for ``weights_only`` load, like
    ``torch.serialization.add_safe_globals``. Each item is the object itself, named in the file by
    ``f"{obj.__module__}.{obj.__qualname__}"``, or a tuple ``(obj, "full.path.name")`` naming it
    explicitly (for objects pickled under another path, such as NumPy 1.x's
    ``numpy.core.multiarray._reconstruct``)."""
    global _user_safe_globals
    _user_safe_globals = _user_safe_globals.union(set(safe_globals))


def get_safe_globals():
    """The user-added globals that are safe for ``weights_only`` load (a list, in no order)."""
    return list(_user_safe_globals)


def clear_safe_globals():
    """Forget every global added with :func:`add_safe_globals`."""
    global _user_safe_globals
    _user_safe_globals = set()


def _remove_safe_globals(safe_globals):
    global _user_safe_globals
    _user_safe_globals = _user_safe_globals - set(safe_globals)


class safe_globals:
    """Context manager that allow-lists ``safe_globals`` for ``weights_only`` loads inside the
    ``with`` block (``torch.serialization.safe_globals``); on exit they are removed again."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        add_safe_globals(self.safe_globals)

    def __exit__(self, exc_type, exc, tb):
        _remove_safe_globals(self.safe_globals)


def user_allowed_globals():
    """``{"module.qualname": object}`` for the user's allow-list (validated as PyTorch does)."""
    out = {}
    for g in _user_safe_globals:
        if isinstance(g, tuple):
            if len(g) != 2:
                raise ValueError(
                    f"Expected tuple of length 2 (global, str of callable full path), but got tuple of length: {len(g)}"
                )
            if type(g[1]) is not str:
                raise TypeError(
                    f"Expected second item in tuple to be str of callable full path, but got: {type(g[1])}"
                )
            out[g[1]] = g[0]
        else:
            out[f"{g.__module__}.{g.__qualname__}"] = g
    return out


# -- PyTorch's error text, with rustgrad's names ------------------------------------------------
UNSAFE_MESSAGE = (
    "rustgrad.load defaults to `weights_only=True`, as `torch.load` does since PyTorch 2.6. "
    "Re-running `rustgrad.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a "
    "trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of rustgrad.load (and torch.load, whose rules it follows) to learn "
    "more about types accepted by default with weights_only."
)


def weights_only_message(message):
    """Wrap an unpickler error the way ``torch.load`` does ("Weights only load failed. ...")."""
    if "was not an allowed global by default." in message:
        return (
            "Weights only load failed. This file can still be loaded, to do so you have two options, "
            "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
            f"\n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
            "the recommended steps in the following error message.\n\tWeightsUnpickler error: "
            + message
            + _DOCS_MESSAGE
        )
    out = f"Weights only load failed. {UNSAFE_MESSAGE}\n"
    if "is blocked" not in message:
        out += (
            "Please file an issue with the following so that we can make "
            "`weights_only=True` compatible with your use case: WeightsUnpickler error: "
        )
    return out + "\n\n" + message + _DOCS_MESSAGE


def unsupported_global_message(full_path):
    """PyTorch's message for a global that is not allow-listed (``builtins.`` shown bare)."""
    if full_path.startswith("builtins."):
        full_path = full_path[len("builtins.") :]
    return (
        f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
        f"Please use `rustgrad.serialization.add_safe_globals([{full_path}])` or the "
        f"`rustgrad.serialization.safe_globals([{full_path}])` context manager to allowlist this global "
        "if you trust this class/function."
    )


# -- checked stand-ins for NumPy's reconstruction functions -------------------------------------
# Plain numeric dtypes only: never object (its "data" would be a list of unpickled objects),
# strings, void/structured or datetime dtypes.
_NUMPY_DTYPE_CODES = {
    "b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16",
}  # fmt: skip
_INT64_MAX = 2**63 - 1


def _as_bytes(data, what):
    if isinstance(data, str):  # a protocol-2 pickle read with encoding="latin1"
        return data.encode("latin1")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise UnpicklingError(f"{what}: data must be bytes, got {type(data).__name__}")


class _PendingDtype:
    """``numpy.dtype(code, align, copy)`` before its BUILD state (which sets the byte order)."""

    def __init__(self, dtype):
        self.dtype = dtype


class _PendingArray:
    """``_reconstruct(ndarray, (0,), b'b')`` before BUILD supplies ``(version, shape, dtype,
    is_fortran, data)``; the array is made at BUILD, from checked state."""


def _checked_dtype(d, what):
    if type(d) is np.dtype or isinstance(d, np.dtype):
        if d.kind in "biufc" and d.fields is None and d.subdtype is None:
            return d
    raise UnpicklingError(f"{what}: expected a plain numeric numpy.dtype, got {type(d).__name__}")


def _np_dtype(code, align=False, copy=True):
    if isinstance(code, bytes):
        code = code.decode("latin1")
    if not isinstance(code, str) or code not in _NUMPY_DTYPE_CODES:
        raise UnpicklingError(
            f"numpy.dtype({code!r}): rustgrad.load rebuilds only bool, integer, floating and complex "
            "NumPy dtypes (no object, string, void, datetime or structured dtypes)"
        )
    if not isinstance(align, bool) or not isinstance(copy, bool):
        raise UnpicklingError(f"numpy.dtype({code!r}, {align!r}, {copy!r}): invalid arguments")
    return _PendingDtype(np.dtype(code))


def _build_dtype(pending, state):
    # state: (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
        raise UnpicklingError(f"numpy.dtype: invalid state {state!r}")
    order = state[1]
    if order not in ("<", ">", "|", "="):
        raise UnpicklingError(f"numpy.dtype: invalid byte order {order!r}")
    if any(x is not None for x in state[2:5]) or state[5:7] != (-1, -1) or state[7] != 0:
        raise UnpicklingError("numpy.dtype: structured, flexible or object dtypes are not supported")
    if len(state) == 9 and state[8] is not None:
        raise UnpicklingError("numpy.dtype: dtype metadata is not supported")
    dt = pending.dtype
    if order in "<>" and dt.itemsize > 1:
        dt = dt.newbyteorder(order)
        if dt.isnative:  # as NumPy's own __setstate__: native order prints as plain "int16"
            dt = dt.newbyteorder("=")
    return dt


def _make_array(raw, dtype, shape, fortran, what, native=True):
    if not isinstance(shape, tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise UnpicklingError(f"{what}: invalid array shape {shape!r}")
    if len(shape) > 64:
        raise UnpicklingError(f"{what}: {len(shape)} dimensions (NumPy supports at most 64)")
    dtype = _checked_dtype(dtype, what)
    if not isinstance(fortran, bool):
        raise UnpicklingError(f"{what}: is_fortran must be a bool, got {fortran!r}")
    nbytes = math.prod(shape) * dtype.itemsize  # exact (Python ints): no overflow to wrap around
    raw = _as_bytes(raw, what)
    if nbytes != len(raw):
        raise UnpicklingError(
            f"{what}: an array of shape {shape} and dtype {dtype} needs {nbytes} bytes, "
            f"the file holds {len(raw)}"
        )
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    # An owned, writable copy in the memory order and byte order that NumPy's own unpickling
    # gives: ndarray.__setstate__ (protocols 0-4) makes big-endian data native, _frombuffer
    # (protocol 5) keeps the dtype it is given.
    out_dtype = dtype.newbyteorder("=") if native else dtype
    return np.array(arr, dtype=out_dtype, order="F" if fortran else "C")


def _np_reconstruct(cls, shape, dtype):
    if cls is not np.ndarray:
        raise UnpicklingError(f"numpy _reconstruct: only numpy.ndarray may be rebuilt, got {cls!r}")
    return _PendingArray()


def _build_array(state):
    if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
        raise UnpicklingError("numpy.ndarray: invalid state (expected (1, shape, dtype, is_fortran, data))")
    _, shape, dtype, fortran, raw = state
    return _make_array(raw, dtype, shape, fortran, "numpy.ndarray")


def _np_scalar(dtype, data):
    dtype = _checked_dtype(dtype, "numpy scalar")
    return _make_array(data, dtype, (1,), False, "numpy scalar")[0]


def _np_frombuffer(buf, dtype, shape, order):  # what protocol-5 array pickles use
    if order not in ("C", "F"):
        raise UnpicklingError(f"numpy _frombuffer: invalid order {order!r}")
    shape = tuple(shape) if isinstance(shape, list) else shape
    return _make_array(buf, dtype, shape, order == "F", "numpy _frombuffer", native=False)


def _checked_bytes(data=b"", *rest):
    # bytes(n) / bytearray(n) would allocate n bytes for any n the file names. Pickles call
    # bytes() only for b"" (e.g. an empty array's data), so copy bytes-like data and nothing else.
    if rest or not isinstance(data, (bytes, bytearray)):
        raise UnpicklingError("bytes()/bytearray() may only copy bytes in weights_only load")
    return bytes(data)


def _checked_bytearray(data=b""):
    return bytearray(_checked_bytes(data))


def _numpy_core_modules():
    """NumPy's ``multiarray`` and ``numeric`` modules (``numpy._core`` on 2.x, ``numpy.core`` on
    1.x; on 2.x ``numpy.core`` is a deprecated alias holding the same functions)."""
    core = getattr(np, "_core", None)
    if core is None:  # pragma: no cover - NumPy 1.x
        core = np.core
    return getattr(core, "multiarray", None), getattr(core, "numeric", None)


def _numpy_standins():
    """Real object (what a file's global resolves to) -> our checked stand-in for calling it."""
    out = {np.dtype: _np_dtype, bytes: _checked_bytes, bytearray: _checked_bytearray}
    multiarray, numeric = _numpy_core_modules()
    for mod, name, fn in (
        (multiarray, "_reconstruct", _np_reconstruct),
        (multiarray, "scalar", _np_scalar),
        (numeric, "_frombuffer", _np_frombuffer),
    ):
        obj = getattr(mod, name, None)
        if obj is not None:
            out[obj] = fn
    return out


def numpy_default_globals():
    """The globals a ``weights_only`` load resolves by default for NumPy data (unlike PyTorch,
    which needs them allow-listed): ``{(module, name): object}`` under both NumPy 1.x and 2.x module
    names. Calls to the functions among them go to the checked stand-ins above; ``numpy.ndarray``
    is only an argument of ``_reconstruct`` (NumPy classes are never instantiated directly), and
    ``builtins.bytes`` (an empty array's data) maps to a stand-in that only copies bytes."""
    multiarray, numeric = _numpy_core_modules()
    out = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("builtins", "bytes"): _checked_bytes,
    }
    for mod, name in ((multiarray, "_reconstruct"), (multiarray, "scalar"), (numeric, "_frombuffer")):
        obj = getattr(mod, name, None)
        if obj is None:  # pragma: no cover - a NumPy without it
            continue
        modname = mod.__name__.rsplit(".", 1)[1]  # "multiarray" / "numeric"
        for pkg in ("numpy._core", "numpy.core"):
            out[(f"{pkg}.{modname}", name)] = obj
    return out


_NUMPY_STANDINS = None


def _standin_for(obj):
    global _NUMPY_STANDINS
    if _NUMPY_STANDINS is None:
        _NUMPY_STANDINS = _numpy_standins()
    try:
        return _NUMPY_STANDINS.get(obj)
    except TypeError:  # unhashable user object
        return None


def _is_numpy_object(obj):
    mod = getattr(obj, "__module__", None) or ""
    return isinstance(mod, str) and (mod == "numpy" or mod.startswith("numpy."))


# -- the unpickler --------------------------------------------------------------------------------
class _Callable:
    """What ``GLOBAL`` resolved, tagged so REDUCE/NEWOBJ can tell it from data."""


class WeightsOnlyUnpickler(pickle._Unpickler):
    """A restricted unpickler: see the module docstring. Subclasses provide ``builtin_globals()``
    (``{(module, name): object}``, resolved before the user's list) and ``persistent_load``."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, encoding="ASCII"):
        super().__init__(file, encoding=encoding)
        self._builtin = self.builtin_globals()
        self._user = user_allowed_globals()
        # Everything GLOBAL handed out (kept alive, so ids stay unique while loading).
        self._resolved = {}
        self._user_types = {id(v): v for v in self._user.values() if isinstance(v, type)}
        self._default_types = {
            id(v): v for v in self._builtin.values() if isinstance(v, type)
        }
        # NumPy objects made by REDUCE and still waiting for their BUILD (id -> object): any left
        # at STOP means the file never initialized one, wherever it was stored.
        self._unbuilt = {}

    def builtin_globals(self):
        return {}

    # GLOBAL / STACK_GLOBAL both come here.
    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:  # Python 2 names (e.g. __builtin__.set)
            import _compat_pickle

            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        full_path = f"{module}.{name}"
        if module in _BLOCKED_MODULES:
            raise UnpicklingError(
                f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked."
            )
        obj = self._builtin.get((module, name), _MISSING)
        if obj is _MISSING:
            obj = self._user.get(full_path, _MISSING)
            if obj is _MISSING:
                self.unsupported_global(module, name)
        self._resolved[id(obj)] = obj
        return obj

    def unsupported_global(self, module, name):
        raise UnpicklingError(unsupported_global_message(f"{module}.{name}"))

    def _callable_of(self, func):
        if self._resolved.get(id(func)) is not func:
            msg = f"Trying to call reduce for unrecognized function {func!r}"
            if hasattr(func, "__self__"):
                msg += f" which belongs to {func.__self__!r}"
            raise UnpicklingError(msg)
        standin = _standin_for(func)
        if standin is not None:
            return standin
        if _is_numpy_object(func):  # e.g. numpy.ndarray(...) called directly: never
            raise UnpicklingError(
                f"rustgrad.load calls NumPy only through its checked reconstruction stand-ins, not {func!r}"
            )
        return func

    def load_reduce(self):
        stack = self.stack
        args = stack.pop()
        func = self._callable_of(stack[-1])
        if not isinstance(args, tuple):
            raise UnpicklingError(f"REDUCE arguments must be a tuple, got {type(args).__name__}")
        value = stack[-1] = func(*args)
        if type(value) in (_PendingArray, _PendingDtype):
            self._unbuilt[id(value)] = value

    dispatch[pickle.REDUCE[0]] = load_reduce

    def _newobj(self, cls, args, kwargs):
        if not isinstance(args, tuple) or not isinstance(kwargs, dict):
            raise UnpicklingError("NEWOBJ arguments must be a tuple (and a dict)")
        ok = isinstance(cls, type) and (
            self._user_types.get(id(cls)) is cls or self._default_types.get(id(cls)) is cls
        )
        if not ok or _is_numpy_object(cls):
            raise UnpicklingError(
                "Can only create new object for nn.Parameter or classes allowlisted "
                f"via `add_safe_globals` but got {cls}"
            )
        return cls.__new__(cls, *args, **kwargs)

    def load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._newobj(cls, args, {}))

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._newobj(cls, args, kwargs))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _replace_pending(self, pending, value):
        self._unbuilt.pop(id(pending), None)
        self.stack[-1] = value
        for k, v in self.memo.items():
            if v is pending:
                self.memo[k] = value

    def load_build(self):
        stack = self.stack
        state = stack.pop()
        inst = stack[-1]
        if type(inst) is _PendingDtype:
            dt = _build_dtype(inst, state)  # checked: plain numeric dtypes only
            self._replace_pending(inst, dt)
            return
        if type(inst) is _PendingArray:
            self._replace_pending(inst, _build_array(state))
            return
        if type(inst) is collections.OrderedDict:
            if not isinstance(state, dict):
                raise UnpicklingError("OrderedDict state must be a dict")
            inst.__dict__.update(state)
            return
        t = type(inst)
        if self._user_types.get(id(t)) is not t or _is_numpy_object(t):
            raise UnpicklingError(
                "Can only build Tensor, Parameter, OrderedDict or types allowlisted "
                f"via `add_safe_globals`, but got {t}"
            )
        setstate = getattr(inst, "__setstate__", None)
        # object.__setstate__ (3.11+) is the default; call it only for classes that define their own.
        if setstate is not None and getattr(t, "__setstate__", None) is not getattr(object, "__setstate__", None):
            setstate(state)
            return
        slotstate = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slotstate = state
        if state:
            inst.__dict__.update(state)
        if slotstate:
            for k, v in slotstate.items():
                setattr(inst, k, v)

    dispatch[pickle.BUILD[0]] = load_build

    def load_append(self):
        value = self.stack.pop()
        target = self.stack[-1]
        if type(target) is not list:
            raise UnpicklingError(f"Can only append to lists, but got {type(target)}")
        target.append(value)

    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self):
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) is not list:
            raise UnpicklingError(f"Can only extend lists, but got {type(target)}")
        target.extend(items)

    dispatch[pickle.APPENDS[0]] = load_appends

    def _check_dict(self, opcode):
        if type(self.stack[-1]) not in (dict, collections.OrderedDict, collections.Counter):
            raise UnpicklingError(
                f"Can only {opcode} for dict, collections.OrderedDict, "
                f"collections.Counter, but got {type(self.stack[-1])}"
            )

    def load_setitem(self):
        value = self.stack.pop()
        key = self.stack.pop()
        self._check_dict("SETITEM")
        self.stack[-1][key] = value

    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self):
        items = self.pop_mark()
        self._check_dict("SETITEMS")
        for i in range(0, len(items) - 1, 2):
            self.stack[-1][items[i]] = items[i + 1]

    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self):
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            raise UnpicklingError(f"Can only add items to sets, but got {type(self.stack[-1])}")
        self.stack[-1].update(items)

    dispatch[pickle.ADDITEMS[0]] = load_additems

    def _refuse(self):
        raise UnpicklingError("Unsupported operand: INST/OBJ/EXT opcodes are not allowed in weights_only load")

    for _op in (pickle.INST, pickle.OBJ, pickle.EXT1, pickle.EXT2, pickle.EXT4):
        dispatch[_op[0]] = _refuse
    del _op

    def load_dup(self):
        # A second reference to a NumPy object awaiting BUILD would keep the unbuilt stand-in;
        # PyTorch's weights-only unpickler refuses DUP too.
        raise UnpicklingError("Unsupported operand: DUP is not allowed in weights_only load")

    dispatch[pickle.DUP[0]] = load_dup

    def load_persid(self):
        raise UnpicklingError("Unsupported operand: text persistent ids are not allowed in weights_only load")

    dispatch[pickle.PERSID[0]] = load_persid

    def load_binpersid(self):
        pid = self.stack.pop()
        if type(pid) is not tuple and type(pid) is not int:
            raise UnpicklingError(f"persistent_load id must be tuple or int, but got {type(pid)}")
        self.append(self.persistent_load(pid))

    dispatch[pickle.BINPERSID[0]] = load_binpersid

    def load_stop(self):
        value = self.stack.pop()
        if type(value) in (_PendingArray, _PendingDtype):
            raise UnpicklingError("a NumPy object was created but never initialized by BUILD")
        if self._unbuilt:
            raise UnpicklingError("a NumPy object was created but never initialized by BUILD")
        self._check_no_pending(value)
        raise pickle._Stop(value)

    dispatch[pickle.STOP[0]] = load_stop

    def _check_no_pending(self, value):
        for v in self.memo.values():
            if type(v) in (_PendingArray, _PendingDtype):
                raise UnpicklingError(
                    "Object created by NEWOBJ was not initialized by BUILD; "
                    "the pickle data is likely corrupt or malicious"
                )
        # BUILD replaces a NumPy stand-in on the stack and in the memo, but a crafted stream can
        # also have stored it in a container first (MARK ... TUPLE, or APPEND of a memo copy): walk
        # what the load returns so that no half-built stand-in reaches the caller.
        seen, todo = set(), [value]
        while todo:
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if type(v) in (_PendingArray, _PendingDtype):
                raise UnpicklingError(
                    "a NumPy object was stored before BUILD initialized it; "
                    "the pickle data is likely corrupt or malicious"
                )
            if isinstance(v, (str, bytes, bytearray, int, float, complex, np.ndarray, np.generic)):
                continue
            if isinstance(v, dict):
                todo.extend(v.keys())
                todo.extend(v.values())
            elif isinstance(v, (list, tuple, set, frozenset)):
                todo.extend(v)
            elif isinstance(v, slice):
                todo.extend((v.start, v.stop, v.step))
            d = getattr(v, "__dict__", None)  # allow-listed objects, OrderedDict BUILD state
            if isinstance(d, dict):
                todo.extend(d.values())


_MISSING = object()


def globals_in_pickle(data):
    """Every ``module.name`` a pickle's GLOBAL/STACK_GLOBAL opcodes name (a static scan)."""
    import _compat_pickle
    import pickletools

    out = set()
    strings = []
    for op, arg, _pos in pickletools.genops(data):
        if op.name == "GLOBAL":
            module, name = arg.split(" ", 1)
            if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names, as the loader maps them
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
            out.add(f"{module}.{name}")
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            out.add(f"{strings[-2]}.{strings[-1]}")
        if isinstance(arg, str) and op.name.endswith("UNICODE"):
            strings.append(arg)
    return out
