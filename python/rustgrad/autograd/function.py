"""``torch.autograd.Function``: user-defined ops with a custom backward."""

from rustgrad import _rustgrad as _C


class FunctionCtx:
    """The ``ctx`` object passed to ``forward`` and ``backward``."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self._non_differentiable = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call ``apply``."""

    @classmethod
    def apply(cls, *args, **kwargs):
        import rustgrad

        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        with rustgrad.no_grad():
            out = cls.forward(ctx, *args, **kwargs)
        single = isinstance(out, _C.Tensor)
        outs = (out,) if single else tuple(out)
        tensor_inputs = [a for a in args if isinstance(a, _C.Tensor)]
        positions = [i for i, a in enumerate(args) if isinstance(a, _C.Tensor)]
        diff_outs = [o for o in outs if isinstance(o, _C.Tensor) and o.is_floating_point()
                     and id(o) not in ctx._non_differentiable]
        if rustgrad.is_grad_enabled() and any(a.requires_grad for a in tensor_inputs) and diff_outs:
            # Outputs that alias inputs would take over the input's identity; give them fresh handles.
            fresh = [o.detach() if any(o is a for a in tensor_inputs) else o for o in diff_outs]

            def backward(*grads):
                g = cls.backward(ctx, *grads)
                g = g if isinstance(g, tuple) else (g,)
                return tuple(g[i] if i < len(g) else None for i in positions)

            _C._record_function(cls.__name__ + "Backward", tensor_inputs, fresh, backward)
            mapping = {id(o): f for o, f in zip(diff_outs, fresh)}
            outs = tuple(mapping.get(id(o), o) for o in outs)
        return outs[0] if single else outs
