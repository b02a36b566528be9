"""``ReduceOp``: how a collective combines the ranks' values (``torch.distributed.ReduceOp``)."""

import enum


class RedOpType(enum.Enum):
    """The reduction kinds; ``ReduceOp.SUM`` etc. are these members, as in PyTorch."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """Namespace of reduction operations: ``SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX`` and the
    bitwise ``BAND``, ``BOR``, ``BXOR`` (integer and bool tensors)."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


def as_red_op(op):
    """Normalise ``op`` (a member, or its name as a string) to a ``RedOpType``."""
    if isinstance(op, RedOpType):
        return op
    if isinstance(op, str) and op.upper() in RedOpType.__members__:
        return RedOpType[op.upper()]
    raise ValueError(f"Invalid reduce op {op!r}; use a member of rustgrad.distributed.ReduceOp")
