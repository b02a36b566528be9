"""``rustgrad.accelerator``: the device-generic API of ``torch.accelerator``; here the accelerator is wgpu."""

from rustgrad import _rustgrad as _C
from rustgrad import wgpu as _wgpu


def is_available():
    """True when an accelerator (a wgpu adapter) is present."""
    return _wgpu.is_available()


def current_accelerator(check_available=False):
    """``rustgrad.device("wgpu")`` when an adapter is present, else ``None``."""
    return _C.device("wgpu") if _wgpu.is_available() else None


def device_count():
    """Number of accelerator devices (0 or 1)."""
    return _wgpu.device_count()


def current_device_index():
    """Index of the current accelerator device (0)."""
    return 0


def synchronize(device=None):
    """Wait for all work recorded on the accelerator to finish."""
    if _wgpu.is_available():
        _wgpu.synchronize()
