"""Exception types of ``torch.distributed`` (all are ``RuntimeError`` subclasses)."""


class DistError(RuntimeError):
    """Base of the errors raised by the distributed package."""


class DistBackendError(DistError):
    """The communication backend failed: a collective timed out or a peer rank is gone."""


class DistNetworkError(DistError):
    """A network-level failure."""


class DistStoreError(DistError):
    """A rendezvous store failure."""
