"""``torch.amp.GradScaler``: loss scaling for mixed-precision training.

Multiply the loss by ``scale`` before ``backward`` so small low-precision gradients do not flush
to zero; ``unscale_`` divides the gradients back and records whether any is inf/NaN; ``step``
skips the optimizer step when one was; ``update`` backs the scale off after an overflow and grows
it after ``growth_interval`` clean steps. Same stages, messages and state dict as PyTorch's.
"""

import math
import warnings

import rustgrad
from rustgrad import _C

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = 0, 1, 2
_DEVICES = ("cpu", "wgpu")


class GradScaler:
    """``GradScaler(device="cpu", init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``. rustgrad has no CUDA: ``device="cuda"`` warns and
    disables the scaler (PyTorch does the same where CUDA is unavailable)."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = str(device).split(":")[0]
        self._enabled = bool(enabled)
        if self._enabled and self._device not in _DEVICES:
            warnings.warn(f"torch.{self._device}.amp.GradScaler is enabled, but {self._device.upper()} is not "
                          "available.  Disabling.", stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._scale = float(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer = {}

    # -- scaling -------------------------------------------------------------------------------
    def _scale_tensor(self, like):
        return _C.tensor(self._scale, dtype=_C.float32).to(like.device)

    def scale(self, outputs):
        """``outputs * scale`` for a tensor or a (nested) list/tuple of tensors; unchanged when
        the scaler is disabled."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, rustgrad.Tensor):
            return outputs * self._scale_tensor(outputs)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def unscale_(self, optimizer):
        """Divide every gradient of ``optimizer``'s parameters by the scale, in place, and record
        whether any of them is inf or NaN (``step`` then skips this optimizer)."""
        if not self._enabled:
            return
        st = self._state(optimizer)
        if st["stage"] == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if st["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # 1/scale rounded through float64 then float32, as PyTorch computes it.
        inv = float(_C.tensor(1.0 / self._scale, dtype=_C.float32).item())
        # Whether any gradient is inf/NaN, kept as a bool tensor on the gradients' device: no
        # sync here, one when step() decides (as PyTorch's found_inf tensor).
        found = None
        with rustgrad.no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if g.dtype is _C.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    g.mul_(inv)
                    bad = rustgrad.isfinite(g).logical_not().any()
                    found = bad if found is None else found.logical_or(bad.to(found.device))
        st["found_inf"] = False if found is None else found
        st["stage"] = _UNSCALED

    @staticmethod
    def _found_inf(st):
        """The optimizer's inf check as a Python bool (the one sync of a step)."""
        found = st["found_inf"]
        if isinstance(found, rustgrad.Tensor):
            found = st["found_inf"] = bool(found.item())
        return found

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` after unscaling, unless a gradient was inf/NaN
        (then the step is skipped and None returned)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        st = self._state(optimizer)
        if st["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if st["stage"] == _READY:
            self.unscale_(optimizer)
        if st["found_inf"] is None:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        ret = None if self._found_inf(st) else optimizer.step(*args, **kwargs)
        st["stage"] = _STEPPED
        return ret

    def update(self, new_scale=None):
        """Adjust the scale for the next iteration: ``new_scale`` when given, else back off after
        an overflow in any optimizer, grow after ``growth_interval`` clean iterations."""
        if not self._enabled:
            return
        if new_scale is not None:
            if isinstance(new_scale, rustgrad.Tensor):
                if new_scale.numel() != 1:
                    raise AssertionError("new_scale should be a single-element tensor")
                new_scale = new_scale.item()
            elif not isinstance(new_scale, float):
                raise AssertionError("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                                     "torch.FloatTensor with requires_grad=False.")
            self._scale = float(new_scale)
        else:
            found = [self._found_inf(s) for s in self._per_optimizer.values() if s["found_inf"] is not None]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(found):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
            # The scale lives in float32, as PyTorch's scale tensor does.
            self._scale = float(_C.tensor(self._scale, dtype=_C.float32).item())
        self._per_optimizer = {}

    # -- accessors -----------------------------------------------------------------------------
    def get_scale(self):
        """The current scale (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def is_enabled(self):
        """Whether the scaler scales at all."""
        return self._enabled

    def state_dict(self):
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker
        (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()``."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
