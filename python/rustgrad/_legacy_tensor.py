"""Legacy tensor-type constructors: ``FloatTensor``, ``LongTensor``, ... (PyTorch's ``torch.FloatTensor``).

Each is a class whose call builds a CPU tensor of its dtype (from sizes, a ``Size``, data, or a
tensor of the same dtype) and whose ``isinstance`` check is true for CPU tensors of that dtype,
as in PyTorch. They are not subclasses of ``Tensor`` (neither are PyTorch's). The set of types
comes from the one dtype-name table in ``_tensor`` (``_LEGACY``), so a dtype added there gets
its constructor here.
"""

import builtins

import numpy as np

from rustgrad._rustgrad import Tensor
from rustgrad._tensor_methods import conversion as _conversion

# C++ scalar names PyTorch prints in its TensorOptions mismatch message.
_CPP_NAME = {
    "float32": "float", "float64": "double", "int64": "long int", "int32": "int", "uint8": "unsigned char",
    "bool": "bool", "float16": "c10::Half", "bfloat16": "c10::BFloat16", "int16": "short int", "int8": "signed char",
}

_OPTIONS = (
    "TensorOptions(dtype={}, device=cpu, layout=Strided, requires_grad=false (default), "
    "pinned_memory=false (default), memory_format=(nullopt))"
)

_SIGNATURES = (
    " * (*, torch.device device = None)\n"
    " * (torch.Storage storage)\n"
    " * (Tensor other)\n"
    " * (tuple of ints size, *, torch.device device = None)\n"
    " * (object data, *, torch.device device = None)\n"
)


def _short(dtype):
    return str(dtype).replace("torch.", "")


def _bad_call(args, kwargs):
    got = ", ".join([type(a).__name__ if not isinstance(a, Tensor) else "Tensor" for a in args]
                    + [f"{k}={type(v).__module__.split('.')[0]}.{type(v).__name__}" for k, v in kwargs.items()])
    return TypeError(
        f"new() received an invalid combination of arguments - got ({got}), but expected one of:\n{_SIGNATURES}"
    )


class _LegacyTensorType(type):
    """Metaclass of the legacy types: calling one constructs, ``isinstance`` checks dtype and device."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"

    def __call__(cls, *args, device=None, **kwargs):
        import rustgrad

        if kwargs:
            raise _bad_call(args, kwargs)
        if device is not None:
            kind = device.split(":")[0] if isinstance(device, str) else device.type
            if kind != "cpu":
                raise RuntimeError(f"legacy constructor expects device type: cpu but device type: {kind} was passed")
        dtype = cls.dtype
        if not args:
            return rustgrad.empty(0, dtype=dtype)
        if builtins.all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args):
            return _sized(args, dtype)
        if len(args) > 1:
            if isinstance(args[0], (int, np.integer)):
                bad = next(a for a in args if not isinstance(a, (int, np.integer)))
                pos = args.index(bad) + 1  # PyTorch counts from 1 here
                raise TypeError(
                    f"new(): argument 'size' failed to unpack the object at pos {pos} with error "
                    f"\"type must be tuple of ints,but got {type(bad).__name__}\""
                )
            raise _bad_call(args, {})
        data = args[0]
        if isinstance(data, rustgrad.Size):
            return _sized(tuple(data), dtype)
        if isinstance(data, Tensor):
            if data.dtype != dtype or data.device.type != "cpu":
                raise TypeError(
                    f"expected {_OPTIONS.format(_CPP_NAME[_short(dtype)])} "
                    f"(got {_OPTIONS.format(_CPP_NAME[_short(data.dtype)])})"
                )
            return data.view(*data.shape)  # a new tensor object over the same storage, as PyTorch
        if isinstance(data, str):
            raise TypeError("new(): invalid data type 'str'")
        if isinstance(data, (builtins.float, builtins.int, builtins.bool, complex)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return rustgrad.tensor(data, dtype=dtype)


def _sized(sizes, dtype):
    import rustgrad

    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(sizes)}")
    return rustgrad.empty(*sizes, dtype=dtype)


def _make(legacy_name, dtype):
    name = legacy_name.split(".")[-1]
    doc = (f"Legacy constructor for {dtype!r} CPU tensors (``{legacy_name}``): ``{name}(*sizes)``, "
           f"``{name}(data)``, ``{name}(tensor)``; ``isinstance(t, {name})`` checks dtype and device.")
    return _LegacyTensorType(name, (), {"dtype": dtype, "is_cuda": False, "is_sparse": False, "__doc__": doc,
                                        "__module__": "rustgrad"})


LEGACY_TYPES = {name.split(".")[-1]: _make(name, dt) for name, dt in _conversion._LEGACY.items()}
globals().update(LEGACY_TYPES)
__all__ = sorted(LEGACY_TYPES)
