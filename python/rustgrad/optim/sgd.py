"""Stochastic gradient descent (optionally with momentum / Nesterov momentum)."""

import rustgrad
from rustgrad import _rustgrad as _C
from rustgrad.optim.optimizer import Optimizer, _check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update rule: buf = momentum*buf + (1-dampening)*g; p -= lr*buf."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, rustgrad.Tensor):
            lr = float(lr.item())
        _check_range("learning rate", lr)
        _check_range("momentum value", momentum)
        _check_range("weight_decay value", weight_decay)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            params, grads, bufs, firsts = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                buf = state.get("momentum_buffer")
                first = False
                if momentum != 0 and buf is None:
                    buf = rustgrad.empty_like(p).contiguous()
                    state["momentum_buffer"] = buf
                    first = True
                elif momentum == 0:
                    buf = None
                    state.setdefault("momentum_buffer", None)
                params.append(p)
                grads.append(p.grad)
                bufs.append(buf)
                firsts.append(first)
            if params:
                # One call per group: on the wgpu device the whole group is one kernel launch
                # (or a few, within the adapter's binding limits).
                _C._sgd_update_group(params, grads, bufs, float(group["lr"]), float(momentum),
                                     float(group["dampening"]), float(group["weight_decay"]),
                                     bool(group["nesterov"]), bool(group["maximize"]), firsts)
        return loss
