"""``torch.nn.modules.instancenorm``'s names; the classes live in ``normalization``."""

from rustgrad.nn.modules.normalization import InstanceNorm1d, InstanceNorm2d, _InstanceNorm

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "_InstanceNorm"]
