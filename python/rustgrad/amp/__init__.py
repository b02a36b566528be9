"""``torch.amp``: automatic mixed precision (``autocast`` regions and ``GradScaler``)."""

from rustgrad.amp.autocast_mode import (
    autocast,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)
from rustgrad.amp.grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled", "get_autocast_dtype"]
