"""Adam (coupled L2 weight decay)."""

import rustgrad
from rustgrad import _rustgrad as _C
from rustgrad.optim.optimizer import Optimizer, _bump_step, _check_range, _new_step, _zeros

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay):
    if isinstance(lr, rustgrad.Tensor):
        lr = float(lr.item())
    _check_range("learning rate", lr)
    _check_range("epsilon value", eps)
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    _check_range("weight_decay value", weight_decay)
    return lr


class Adam(Optimizer):
    """Adam with PyTorch's update rule (bias corrections applied to step size and denominator)."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None):
        lr = _check_adam_args(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            params, grads, avgs, sqs, maxes, steps = [], [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["exp_avg"] = _zeros(p)
                    state["exp_avg_sq"] = _zeros(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = _zeros(p)
                steps.append(_bump_step(state))
                params.append(p)
                grads.append(p.grad)
                avgs.append(state["exp_avg"])
                sqs.append(state["exp_avg_sq"])
                maxes.append(state.get("max_exp_avg_sq") if amsgrad else None)
            if params:
                # One call per group: on the wgpu device the whole group is one kernel launch
                # (or a few, within the adapter's binding limits).
                _C._adam_update_group(params, grads, avgs, sqs, maxes, steps, float(group["lr"]),
                                      float(beta1), float(beta2), float(group["eps"]),
                                      float(group["weight_decay"]), bool(amsgrad),
                                      bool(group["maximize"]), self._decoupled)
        return loss
