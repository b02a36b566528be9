"""All nn layer classes, in submodules named as torch.nn.modules' (activation, linear, conv, ...)."""

from rustgrad.nn.modules.activation import *  # noqa: F401,F403
from rustgrad.nn.modules.activation import MultiheadAttention  # noqa: F401
from rustgrad.nn.modules.batchnorm import *  # noqa: F401,F403
from rustgrad.nn.modules.container import *  # noqa: F401,F403
from rustgrad.nn.modules.conv import *  # noqa: F401,F403
from rustgrad.nn.modules.distance import *  # noqa: F401,F403
from rustgrad.nn.modules.dropout import *  # noqa: F401,F403
from rustgrad.nn.modules.flatten import *  # noqa: F401,F403
from rustgrad.nn.modules.fold import *  # noqa: F401,F403
from rustgrad.nn.modules.instancenorm import *  # noqa: F401,F403
from rustgrad.nn.modules.linear import *  # noqa: F401,F403
from rustgrad.nn.modules.loss import *  # noqa: F401,F403
from rustgrad.nn.modules.module import Module  # noqa: F401
from rustgrad.nn.modules.normalization import *  # noqa: F401,F403
from rustgrad.nn.modules.normalization import BatchNorm3d  # noqa: F401
from rustgrad.nn.modules.padding import *  # noqa: F401,F403
from rustgrad.nn.modules.pixelshuffle import *  # noqa: F401,F403
from rustgrad.nn.modules.pooling import *  # noqa: F401,F403
from rustgrad.nn.modules.rnn import *  # noqa: F401,F403
from rustgrad.nn.modules.sparse import *  # noqa: F401,F403
from rustgrad.nn.modules.transformer import *  # noqa: F401,F403
from rustgrad.nn.modules.upsampling import *  # noqa: F401,F403
