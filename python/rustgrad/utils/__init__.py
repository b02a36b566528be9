"""rustgrad.utils: data loading helpers (``torch.utils``)."""

from rustgrad.utils import data

__all__ = ["data"]
