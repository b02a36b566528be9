"""The ONNX graph being built during an export: nodes, initializers, and which ONNX value each
traced rustgrad tensor is."""

import numpy as np

from rustgrad.onnx.errors import UnsupportedOperatorError


def onnx_dtype(np_dtype):
    """NumPy dtype -> ``onnx.TensorProto`` element type."""
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype))


class Graph:
    """Collects nodes and initializers; maps traced tensors (by identity) to ONNX value names.

    Every tensor the graph has named is kept alive here, so that ``id()`` stays a valid key for
    the whole export."""

    def __init__(self, opset, export_params=True, keep_initializers_as_inputs=False):
        self.opset = opset
        self.export_params = export_params
        self.keep_initializers_as_inputs = keep_initializers_as_inputs
        self.nodes = []
        self.initializers = []
        self.graph_inputs_extra = []  # parameters as graph inputs when export_params=False
        self._values = {}  # id(tensor) -> (name, tensor)
        self._consts = {}  # id(tensor) -> initializer name
        self._used = set()
        self.param_names = {}  # id(parameter) -> qualified name in the model ("0.weight")

    # -- names ---------------------------------------------------------------------------------
    def fresh(self, hint):
        hint = hint.replace("/", ".") or "v"
        name, i = hint, 0
        while name in self._used:
            i += 1
            name = f"{hint}.{i}"
        self._used.add(name)
        return name

    def reserve(self, name):
        if name in self._used:
            raise ValueError(f"rustgrad.onnx.export: the name {name!r} is used twice")
        self._used.add(name)
        return name

    # -- traced values ---------------------------------------------------------------------------
    def bind(self, tensor, name):
        self._values[id(tensor)] = (name, tensor)

    def is_traced(self, tensor):
        entry = self._values.get(id(tensor))
        return entry is not None and entry[1] is tensor

    def value(self, t, like=None):
        """The ONNX name holding ``t``: a traced tensor's value, or a constant (initializer) for a
        tensor that does not depend on the inputs, or for a Python number (typed like ``like``)."""
        import rustgrad

        if isinstance(t, rustgrad.Tensor):
            entry = self._values.get(id(t))
            if entry is not None and entry[1] is t:
                return entry[0]
            if t.grad_fn is not None:
                # Computed from the inputs by something the exporter did not see.
                raise UnsupportedOperatorError(
                    "<untraced operation>",
                    self.opset,
                    f"a tensor of shape {list(t.shape)} reached the graph computed from the inputs by an "
                    "operation rustgrad.onnx does not record (a native or NumPy computation in forward?)",
                )
            return self.tensor_const(t)
        if isinstance(t, (bool, int, float)):
            dt = np.float32
            if like is not None:
                dt = like.detach().numpy().dtype if isinstance(like, rustgrad.Tensor) else np.dtype(like)
            return self.const(np.array(t, dtype=dt))
        raise UnsupportedOperatorError(f"<{type(t).__name__} argument>", self.opset)

    def tensor_const(self, t):
        key = id(t)
        name = self._consts.get(key)
        if name is not None:
            return name
        pname = self.param_names.get(key)
        name = self.fresh(pname or "const")
        arr = np.ascontiguousarray(t.detach().numpy())
        self._consts[key] = name
        self._values[key] = (name, t)
        if pname is not None and (not self.export_params or self.keep_initializers_as_inputs):
            # A parameter as a graph input: without its value (export_params=False), or with its
            # value as the input's default (keep_initializers_as_inputs=True).
            from onnx import helper

            self.graph_inputs_extra.append(helper.make_tensor_value_info(name, onnx_dtype(arr.dtype), arr.shape))
        if pname is None or self.export_params:
            self._add_initializer(name, arr)
        return name

    def const(self, arr, hint="const"):
        name = self.fresh(hint)
        self._add_initializer(name, np.asarray(arr))
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.array(list(values), dtype=np.int64), hint)

    def _add_initializer(self, name, arr):
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(arr), name))

    # -- nodes -----------------------------------------------------------------------------------
    def op(self, op_type, inputs, n_out=1, hint=None, **attrs):
        """Add one node; -> its output name (or a list of names when ``n_out > 1``)."""
        from onnx import helper

        outs = [self.fresh(f"{hint or op_type}_out") for _ in range(n_out)]
        node_name = self.fresh(f"/{op_type}_{len(self.nodes)}")
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    # -- small helpers that hide opset differences -------------------------------------------------
    def reduce(self, op_type, x, axes, keepdims):
        # ReduceMean/Max/Min take axes as an input from opset 18 (ReduceSum from 13).
        if axes is None:
            return self.op(op_type, [x], keepdims=int(keepdims))
        if op_type != "ReduceSum" and self.opset < 18:
            return self.op(op_type, [x], axes=list(axes), keepdims=int(keepdims))
        return self.op(op_type, [x, self.ints(axes, "axes")], keepdims=int(keepdims))

    def layer_norm(self, x, scale, bias, n_axes, eps, dt):
        """LayerNormalization over the last ``n_axes`` dims (composed below opset 17)."""
        if self.opset >= 17:
            return self.op("LayerNormalization", [x, scale] + ([bias] if bias else []), axis=-n_axes, epsilon=eps)
        axes = list(range(-n_axes, 0))
        mean = self.reduce("ReduceMean", x, axes, True)
        c = self.op("Sub", [x, mean])
        var = self.reduce("ReduceMean", self.op("Mul", [c, c]), axes, True)
        y = self.op("Div", [c, self.op("Sqrt", [self.op("Add", [var, self.const(np.array(eps, dt))])])])
        y = self.op("Mul", [y, scale])
        return self.op("Add", [y, bias]) if bias else y

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x, axes=None):
        if axes is None:
            return self.op("Squeeze", [x])
        return self.op("Squeeze", [x, self.ints(axes, "axes")])

    def reshape(self, x, shape):
        return self.op("Reshape", [x, self.ints(shape)])

    def transpose(self, x, perm):
        return self.op("Transpose", [x], perm=list(perm))

    def matmul_t(self, x, w):
        """``x @ w.T`` with ``w`` a constant (a Linear's weight): MatMul by the transposed weight."""
        # The weight stays one initializer under its parameter name (so export_params=False can
        # make it an input); the Transpose is cheap and runtimes fold it.
        return self.op("MatMul", [x, self.transpose(self.value(w), (1, 0))])

    def linear(self, x, w, b=None):
        y = self.matmul_t(x, w)
        return self.op("Add", [y, self.value(b)]) if b is not None else y

    def split(self, x, sizes, axis):
        return self.op("Split", [x, self.ints(sizes, "split")], n_out=len(sizes), axis=axis)
