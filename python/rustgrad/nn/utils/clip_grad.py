"""Gradient clipping."""

import math

import rustgrad

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, rustgrad.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients in place so their joint ``norm_type`` norm is at most ``max_norm``.

    Returns the total norm (before clipping) as a 0-d tensor.
    """
    grads = _grads(parameters)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return rustgrad.tensor(0.0)
    with rustgrad.no_grad():
        if norm_type == math.inf:
            norms = [g.detach().abs().max() for g in grads]
            total = norms[0] if len(norms) == 1 else rustgrad.stack(norms).max()
        else:
            norms = [g.detach().norm(norm_type) for g in grads]
            total = rustgrad.stack(norms).norm(norm_type) if len(norms) > 1 else norms[0]
        total_f = float(total)
        if error_if_nonfinite and (math.isnan(total_f) or math.isinf(total_f)):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
                "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
                "`error_if_nonfinite=False`"
            )
        clip_coef = max_norm / (total_f + 1e-6)
        if clip_coef < 1.0 or math.isnan(clip_coef):
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
