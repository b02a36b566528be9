"""``rustgrad.nn.parallel``: ``DistributedDataParallel`` (alias ``DDP``) and ``DataParallel``."""

from rustgrad.nn.parallel.data_parallel import DataParallel
from rustgrad.nn.parallel.distributed import DDP, DistributedDataParallel

__all__ = ["DDP", "DataParallel", "DistributedDataParallel"]
