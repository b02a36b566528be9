"""Tracing one forward pass into an ONNX graph.

Design (why this shape): rustgrad's layers call native kernels directly, so watching the native
calls would mean one ONNX rule per kernel and per layer implementation detail. Instead the trace
works at the level users write code at, in two layers:

1. ``Module.__call__`` is patched for the duration of the export. A module whose type has a
   converter (``_modules.py``: Linear, Conv, pooling, norms, activations, RNN/LSTM/GRU, attention,
   ...) is one unit: its real forward runs untraced (so every value is rustgrad's own) and the
   converter emits the equivalent ONNX subgraph from the module's parameters. Any other module
   (Sequential, user models) runs its forward normally and is traced inside.
2. The Tensor methods and the ``rustgrad`` / ``rustgrad.nn.functional`` functions a forward calls
   (``view``, ``+``, ``cat``, ``F.relu``, ...) are patched the same way: one with a converter
   (``_ops.py``) records a node; one without raises ``UnsupportedOperatorError`` naming it as soon
   as it is applied to a traced tensor, instead of silently baking its result into the graph.

A tensor is "traced" when the graph knows its ONNX value. Tensors that do not depend on the
inputs (parameters, buffers, constants made in forward) become initializers. To tell the two
apart even when a value was computed by something the patches did not see, the export runs with
the inputs requiring grad and the parameters not: a tensor with an autograd node that the graph
does not know was derived from the inputs untraced, and reaching the graph it raises.
"""

import functools
import warnings

import rustgrad
from rustgrad.onnx.errors import UnsupportedOperatorError

_ACTIVE = []  # the running export's Tracer (exports do not nest)


class TracerWarning(UserWarning):
    """A traced value left the graph (``.item()``, ``.numpy()``, ``bool()``...): the export
    records it as a constant (``torch.jit.TracerWarning``'s role)."""


# Tensor -> Python conversions: allowed, but they freeze a value into the graph.
_TO_PYTHON = {"item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__"}


def active():
    return _ACTIVE[-1] if _ACTIVE else None


def _flat_tensors(obj, out):
    if isinstance(obj, rustgrad.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _flat_tensors(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flat_tensors(o, out)
    return out


# Tensor methods that only read metadata or leave the graph: never traced, never refused.
_PASS_METHODS = {
    "size", "dim", "ndimension", "numel", "nelement", "item", "tolist", "numpy", "stride",
    "storage_offset", "is_contiguous", "data_ptr", "element_size", "get_device", "is_floating_point",
    "is_complex", "is_signed", "register_hook", "requires_grad_", "retain_grad", "backward",
    "untyped_storage", "_storage_id", "is_set_to", "equal", "allclose", "dim_order",
    "is_shared", "is_pinned", "has_names", "__len__", "__bool__", "__index__", "__int__",
    "__float__", "__repr__", "__format__", "__str__", "__hash__", "__iter__", "__contains__",
    "__reduce__", "__reduce_ex__", "__deepcopy__", "__array__", "__dlpack__", "__dlpack_device__",
    "_is_view", "cuda", "wgpu", "share_memory_", "pin_memory",
}  # fmt: skip
_TENSOR_DUNDERS = {
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__matmul__", "__rmatmul__", "__neg__", "__pow__", "__rpow__", "__getitem__",
    "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__abs__", "__lt__", "__le__",
    "__gt__", "__ge__", "__eq__", "__ne__", "__and__", "__or__", "__xor__", "__invert__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pos__",
}  # fmt: skip


class Tracer:
    def __init__(self, graph):
        self.graph = graph
        self.suspended = 0  # > 0 while a converted call computes its real result
        self._restore = []

    # -- running a converted call ---------------------------------------------------------------
    def run_untraced(self, fn, *args, **kwargs):
        self.suspended += 1
        try:
            return fn(*args, **kwargs)
        finally:
            self.suspended -= 1

    def bind_outputs(self, out, names):
        """Give ``out`` (a tensor or nested tuple/list of them) the ONNX ``names`` (same nesting)."""
        if isinstance(out, rustgrad.Tensor):
            self.graph.bind(out, names)
        elif isinstance(out, (tuple, list)):
            for o, n in zip(out, names):
                if o is not None and n is not None:
                    self.bind_outputs(o, n)

    def has_traced(self, args, kwargs):
        g = self.graph
        return any(g.is_traced(t) for t in _flat_tensors(list(args) + list(kwargs.values()), []))

    # -- patching ----------------------------------------------------------------------------------
    def _patch(self, owner, name, wrapper):
        had = name in vars(owner)
        self._restore.append((owner, name, vars(owner).get(name), had))
        setattr(owner, name, wrapper)

    def install(self):
        from rustgrad.nn import functional as F
        from rustgrad.nn.modules.module import Module
        from rustgrad.onnx import _modules, _ops

        tracer = self
        original_call = Module.__call__

        @functools.wraps(original_call)
        def module_call(module, *args, **kwargs):
            if tracer.suspended:
                return original_call(module, *args, **kwargs)
            conv = _modules.converter_for(module)
            if conv is None:
                return original_call(module, *args, **kwargs)  # trace inside its forward
            out = tracer.run_untraced(original_call, module, *args, **kwargs)
            tracer.bind_outputs(out, tracer.run_untraced(conv, tracer, module, args, kwargs, out))
            return out

        self._patch(Module, "__call__", module_call)

        for name in sorted(_TO_PYTHON):
            fn = getattr(rustgrad.Tensor, name, None)
            if fn is not None:
                self._patch(rustgrad.Tensor, name, self._warn_wrap(fn, name))

        from inspect import getattr_static

        # dir(), not vars(): methods a base class or mixin defines are patched on Tensor too.
        for name in sorted(set(dir(rustgrad.Tensor)) | _TENSOR_DUNDERS):
            if name in _PASS_METHODS or (name.startswith("_") and name not in _TENSOR_DUNDERS):
                continue
            try:
                static = getattr_static(rustgrad.Tensor, name)
            except AttributeError:
                continue
            if isinstance(static, property) or type(static).__name__ == "getset_descriptor":
                continue
            fn = getattr(rustgrad.Tensor, name, None)
            if fn is None or not callable(fn) or isinstance(fn, type):
                continue
            self._patch(rustgrad.Tensor, name, self._wrap(fn, _ops.TENSOR_METHODS.get(name), f"aten::{name.strip('_')}"))

        functional = {**_ops.FUNCTIONAL, **_modules.functional_rules()}
        for module, table in ((rustgrad, _ops.FUNCTIONS), (F, functional)):
            for name, fn in list(vars(module).items()):
                if name.startswith("_") or isinstance(fn, type) or not callable(fn):
                    continue
                if getattr(fn, "__module__", "") in ("builtins", "typing") or type(fn).__name__ == "module":
                    continue
                self._patch(module, name, self._wrap(fn, table.get(name), f"aten::{name}"))

    def _warn_wrap(self, fn, name):
        tracer = self

        @functools.wraps(fn)
        def wrapper(t, *args, **kwargs):
            if not tracer.suspended and tracer.graph.is_traced(t):
                warnings.warn(
                    f"Converting a traced tensor to a Python value (Tensor.{name}) during ONNX export: the "
                    "result is recorded as a constant, so the exported graph may not generalize to other inputs",
                    TracerWarning,
                    stacklevel=2,
                )
            return fn(t, *args, **kwargs)

        return wrapper

    def _wrap(self, fn, conv, opname):
        tracer = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if tracer.suspended or not tracer.has_traced(args, kwargs):
                return fn(*args, **kwargs)
            out = tracer.run_untraced(fn, *args, **kwargs)
            if conv is None:
                if not _flat_tensors(out, []):
                    return out  # metadata (shapes, numbers): not part of the graph
                raise UnsupportedOperatorError(opname, tracer.graph.opset)
            tracer.bind_outputs(out, tracer.run_untraced(conv, tracer.graph, out, *args, **kwargs))
            return out

        wrapper.__wrapped_for_onnx__ = fn
        return wrapper

    def uninstall(self):
        while self._restore:
            owner, name, old, had = self._restore.pop()
            if had:
                setattr(owner, name, old)
            else:
                delattr(owner, name)

    def __enter__(self):
        if _ACTIVE:
            raise RuntimeError("rustgrad.onnx.export cannot be called while another export is running")
        _ACTIVE.append(self)
        try:
            self.install()
        except BaseException:
            self.uninstall()
            _ACTIVE.pop()
            raise
        return self

    def __exit__(self, *exc):
        self.uninstall()
        _ACTIVE.pop()
