"""``torch.cpu``: CPU device queries and the deprecated ``torch.cpu.amp`` alias."""

from rustgrad.cpu import amp  # noqa: F401

__all__ = ["amp", "is_available", "device_count", "synchronize", "current_device"]


def is_available():
    """The CPU is always available."""
    return True


def device_count():
    """``torch.cpu.device_count()``: always 1."""
    return 1


def current_device():
    """``torch.cpu.current_device()``: ``"cpu"``."""
    return "cpu"


def synchronize(device=None):
    """CPU work is synchronous: nothing to wait for."""
