"""All nn layer classes."""

from rustgrad.nn.modules.activation import *  # noqa: F401,F403
from rustgrad.nn.modules.container import *  # noqa: F401,F403
from rustgrad.nn.modules.conv import *  # noqa: F401,F403
from rustgrad.nn.modules.dropout import *  # noqa: F401,F403
from rustgrad.nn.modules.flatten import *  # noqa: F401,F403
from rustgrad.nn.modules.fold import *  # noqa: F401,F403
from rustgrad.nn.modules.linear import *  # noqa: F401,F403
from rustgrad.nn.modules.loss import *  # noqa: F401,F403
from rustgrad.nn.modules.module import Module  # noqa: F401
from rustgrad.nn.modules.normalization import *  # noqa: F401,F403
from rustgrad.nn.modules.normalization import BatchNorm3d  # noqa: F401
from rustgrad.nn.modules.pooling import *  # noqa: F401,F403
from rustgrad.nn.modules.rnn import *  # noqa: F401,F403
from rustgrad.nn.modules.sparse import *  # noqa: F401,F403
from rustgrad.nn.modules.transformer import *  # noqa: F401,F403
