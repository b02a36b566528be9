"""``rustgrad.backends``: availability probes matching ``torch.backends``."""

from rustgrad.backends import cudnn, mps  # noqa: F401
