"""``RUSTGRAD_WGPU_FALLBACK=1``: run ops that have no wgpu kernel on the CPU instead of raising,
as ``PYTORCH_ENABLE_MPS_FALLBACK=1`` does for MPS.

Off by default: a silent round trip through host memory per op is exactly the slowness a GPU
user needs to hear about. When on, every native entry point (the functions of the extension
module and the Tensor methods it defines) is wrapped: if it raises the device's
NotImplementedError, its device tensor arguments are copied to the CPU, the op runs there, and
tensor results come back to the device. The copies are differentiable, so autograd flows through
the round trip. An in-place op's result is copied back into its first argument. Each op warns once.
"""

import functools
import os
import warnings

from rustgrad import _rustgrad as _C

_warned = set()

# Operator slots worth a fallback (the rest of the dunders are object protocol, not ops).
_OPERATORS = {
    f"__{n}__"
    for n in (
        "add radd iadd sub rsub isub mul rmul imul truediv rtruediv itruediv floordiv rfloordiv "
        "ifloordiv mod rmod imod pow rpow ipow matmul rmatmul and rand iand or ror ior xor rxor "
        "ixor lshift rlshift rshift rrshift neg pos abs invert lt le gt ge eq ne getitem setitem"
    ).split()
}


def _in_place(name):
    return name.endswith("_") or name in ("setitem", "iadd", "isub", "imul", "itruediv", "ifloordiv",
                                          "imod", "ipow", "iand", "ior", "ixor")


def enabled():
    return os.environ.get("RUSTGRAD_WGPU_FALLBACK", "") == "1"


def _is_device_gap(e):
    msg = str(e)
    return "wgpu" in msg and ("not currently implemented" in msg or "not implemented" in msg)


def _find_device(items):
    for a in items:
        if isinstance(a, _C.Tensor) and a.device.type != "cpu":
            return a.device
        if isinstance(a, (list, tuple)):
            d = _find_device(a)
            if d is not None:
                return d
    return None


def _map(obj, f):
    if isinstance(obj, _C.Tensor):
        return f(obj)
    if isinstance(obj, list):
        return [_map(o, f) for o in obj]
    if isinstance(obj, tuple):
        return type(obj)(*(_map(o, f) for o in obj)) if hasattr(obj, "_fields") else tuple(_map(o, f) for o in obj)
    if isinstance(obj, dict):
        return {k: _map(v, f) for k, v in obj.items()}
    return obj


def _fallback(name, fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError as e:
            dev = _find_device(list(args) + list(kwargs.values()))
            if dev is None or not _is_device_gap(e):
                raise
            if name not in _warned:
                _warned.add(name)
                warnings.warn(
                    f"The operator '{name}' is not currently supported on the {dev.type} device and will "
                    "fall back to run on the CPU (RUSTGRAD_WGPU_FALLBACK=1). This may have performance "
                    "implications.",
                    UserWarning,
                    stacklevel=2,
                )
            cpu_args = _map(args, lambda t: t.to("cpu"))
            cpu_kwargs = _map(kwargs, lambda t: t.to("cpu"))
            out = fn(*cpu_args, **cpu_kwargs)
            if _in_place(name) and args and isinstance(args[0], _C.Tensor):
                from rustgrad.autograd.grad_mode import no_grad

                with no_grad():
                    args[0].copy_(cpu_args[0])
                return args[0]
            return _map(out, lambda t: t.to(dev))

    return call


def install():
    """Wrap the extension's functions and Tensor methods (once, when the variable is set)."""
    if not enabled() or getattr(_C, "_fallback_installed", False):
        return
    for name in dir(_C):
        obj = getattr(_C, name)
        if callable(obj) and not isinstance(obj, type) and name not in ("device", "dtype"):
            setattr(_C, name, _fallback(name.lstrip("_"), obj))
    for name, obj in list(vars(_C.Tensor).items()):
        native = type(obj).__name__ in ("method_descriptor", "wrapper_descriptor", "builtin_function_or_method")
        if not native or (name.startswith("__") and name not in _OPERATORS):
            continue
        setattr(_C.Tensor, name, _fallback(name.strip("_"), obj))
    _C._fallback_installed = True
