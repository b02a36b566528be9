"""AdamW: Adam with decoupled weight decay (p *= 1 - lr*weight_decay before the Adam step)."""

from rustgrad.optim.adam import Adam, _check_adam_args
from rustgrad.optim.optimizer import Optimizer

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW (weight_decay default 1e-2, decoupled from the gradient)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        lr = _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused)
        Optimizer.__init__(self, params, defaults)
