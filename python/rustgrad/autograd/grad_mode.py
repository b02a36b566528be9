"""Grad-mode context managers, usable as decorators too (``torch.no_grad`` and friends)."""

import functools

from rustgrad import _rustgrad as _C

is_grad_enabled = _C.is_grad_enabled


class _GradMode:
    _mode = True

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)
        return None  # like PyTorch: `with no_grad() as x` binds None

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable gradient recording inside the block or decorated function."""

    _mode = False


class enable_grad(_GradMode):
    """Re-enable gradient recording inside a ``no_grad`` block."""

    _mode = True


class inference_mode(_GradMode):
    """Same as ``no_grad`` here (rustgrad has no separate inference tensors)."""

    def __init__(self, mode=True):
        self._mode = not mode
        self._on = bool(mode)

    def __enter__(self):
        global _INFERENCE_DEPTH
        super().__enter__()
        self._prev_depth = _INFERENCE_DEPTH
        _INFERENCE_DEPTH = _INFERENCE_DEPTH + 1 if self._on else 0

    def __exit__(self, *exc):
        global _INFERENCE_DEPTH
        _INFERENCE_DEPTH = self._prev_depth
        return super().__exit__(*exc)

    def __call__(self, fn):
        if not callable(fn) or isinstance(fn, bool):
            return inference_mode(fn)
        on = self._on

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(on):
                return fn(*args, **kwargs)

        return wrapper


# Nesting depth of active inference_mode(True) blocks (for torch.is_inference_mode_enabled).
_INFERENCE_DEPTH = 0


class _Set:
    def __init__(self, mode):
        self._mode = mode

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False


class set_grad_enabled(_Set):
    """``set_grad_enabled(mode)``: takes effect immediately, and as a context manager restores."""

    def __init__(self, mode):
        super().__init__(bool(mode))
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        _C._set_grad_enabled(self._prev)
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _Set(mode):
                return fn(*args, **kwargs)

        return wrapper
