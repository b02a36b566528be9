"""``rustgrad.autograd``: gradients of tensors, mirroring ``torch.autograd``."""

from rustgrad import _rustgrad as _C
from rustgrad.autograd.function import Function  # noqa: F401
from rustgrad.autograd.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401
from rustgrad.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: F401


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple, one entry per input)."""
    r = _C.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused or materialize_grads)
    if materialize_grads:
        from rustgrad import zeros_like

        ins = [inputs] if isinstance(inputs, _C.Tensor) else list(inputs)
        r = tuple(g if g is not None else zeros_like(i) for g, i in zip(r, ins))
    return r


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves."""
    if inputs is not None:
        for t, g in zip([tensors] if isinstance(tensors, _C.Tensor) else tensors,
                        [grad_tensors] if grad_tensors is None or isinstance(grad_tensors, _C.Tensor) else grad_tensors):
            t.backward(g, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)
        return
    _C.backward(tensors, grad_tensors, retain_graph, create_graph)
