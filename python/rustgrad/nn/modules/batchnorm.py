"""``torch.nn.modules.batchnorm``'s names; the classes live in ``normalization`` with the other norms."""

from rustgrad.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, _BatchNorm, _NormBase

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "_BatchNorm", "_NormBase"]
