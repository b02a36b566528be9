"""Gradient clipping."""

import functools
import math
import operator

import rustgrad

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, rustgrad.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _total_norm(norms, norm_type):
    """The ``norm_type`` norm of the per-gradient norms (PyTorch's ``vector_norm(stack(norms))``),
    from elementwise ops so it stays on the gradients' device."""
    if len(norms) == 1:
        return norms[0]
    if norm_type == math.inf:
        return functools.reduce(rustgrad.maximum, norms)
    if norm_type == -math.inf:
        return functools.reduce(rustgrad.minimum, norms)
    if norm_type == 0:
        return functools.reduce(operator.add, [(n != 0).to(n.dtype) for n in norms])
    if norm_type == 1:
        return functools.reduce(operator.add, norms)
    if norm_type == 2:
        return functools.reduce(operator.add, [n * n for n in norms]).sqrt()
    return functools.reduce(operator.add, [n**norm_type for n in norms]) ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients in place so their joint ``norm_type`` norm is at most ``max_norm``.

    Returns the total norm (before clipping) as a 0-d tensor on the gradients' device. As in
    PyTorch, nothing is read back to the host (the scale factor ``min(max_norm / (total + 1e-6),
    1)`` is a device tensor) unless ``error_if_nonfinite`` asks for the check.
    """
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return rustgrad.tensor(0.0)
    with rustgrad.no_grad():
        if norm_type == math.inf:
            norms = [g.detach().abs().max() for g in grads]
        else:
            norms = [g.detach().norm(norm_type) for g in grads]
        total = _total_norm(norms, norm_type)
        if error_if_nonfinite and not bool(rustgrad.isfinite(total).item()):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
                "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
                "`error_if_nonfinite=False`"
            )
        clip_coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(clip_coef)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with rustgrad.no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
