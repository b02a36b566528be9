"""Adagrad."""

import rustgrad
from rustgrad import _rustgrad as _C
from rustgrad.optim.optimizer import Optimizer, _bump_step, _check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: sum += g*g; p -= lr/(1+(step-1)*lr_decay) * g/(sqrt(sum)+eps)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_range("learning rate", lr)
        _check_range("lr_decay value", lr_decay)
        _check_range("weight_decay value", weight_decay)
        _check_range("initial_accumulator_value value", initial_accumulator_value)
        _check_range("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch creates Adagrad's state eagerly.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = rustgrad.tensor(0.0, dtype=rustgrad.float32)
                state["sum"] = rustgrad.full_like(p, float(group["initial_accumulator_value"])).contiguous()

    def step(self, closure=None):
        """Perform one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                step = _bump_step(state)
                _C._adagrad_update(p, p.grad, state["sum"], step, float(group["lr"]),
                                   float(group["lr_decay"]), float(group["weight_decay"]),
                                   float(group["eps"]), bool(group["maximize"]))
        return loss
