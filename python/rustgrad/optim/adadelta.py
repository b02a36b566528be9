"""Adadelta."""

from rustgrad import _rustgrad as _C
from rustgrad.optim.optimizer import Optimizer, _bump_step, _check_range, _new_step, _zeros

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta with PyTorch's update rule (delta scaled by lr)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_range("learning rate", lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_range("epsilon value", eps)
        _check_range("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["square_avg"] = _zeros(p)
                    state["acc_delta"] = _zeros(p)
                _bump_step(state)
                _C._adadelta_update(p, p.grad, state["square_avg"], state["acc_delta"],
                                    float(group["lr"]), float(group["rho"]), float(group["eps"]),
                                    float(group["weight_decay"]), bool(group["maximize"]))
        return loss
