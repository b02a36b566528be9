"""``rustgrad.nn``: modules, functional ops, initialisers and utilities (PyTorch's torch.nn API)."""

from rustgrad.nn import (  # noqa: F401
    functional,
    init,
    parallel,
    utils,  # noqa: F401
)
from rustgrad.nn.modules import *  # noqa: F401,F403
from rustgrad.nn.modules import Module  # noqa: F401
from rustgrad.nn.parallel import DataParallel  # noqa: F401
from rustgrad.nn.parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
