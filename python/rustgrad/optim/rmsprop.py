"""RMSprop (optionally centered, with momentum)."""

from rustgrad import _rustgrad as _C
from rustgrad.optim.optimizer import Optimizer, _bump_step, _check_range, _new_step, _zeros

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with PyTorch's update rule (eps added outside the square root)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_range("learning rate", lr)
        _check_range("epsilon value", eps)
        _check_range("momentum value", momentum)
        _check_range("weight_decay value", weight_decay)
        _check_range("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
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
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = _zeros(p)
                    if group["centered"]:
                        state["grad_avg"] = _zeros(p)
                _bump_step(state)
                _C._rmsprop_update(p, p.grad, state["square_avg"],
                                   state.get("momentum_buffer") if group["momentum"] > 0 else None,
                                   state.get("grad_avg") if group["centered"] else None,
                                   float(group["lr"]), float(group["alpha"]), float(group["eps"]),
                                   float(group["weight_decay"]), float(group["momentum"]),
                                   bool(group["centered"]), bool(group["maximize"]))
        return loss
