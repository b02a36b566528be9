"""Re-export of the native extension so submodules import one name."""

from rustgrad._rustgrad import *  # noqa: F401,F403
from rustgrad._rustgrad import Tensor  # noqa: F401
