"""Methods of ``Tensor`` that are ``torch.<name>`` functions called with the tensor first, and the
in-place forms built on them. One implementation serves ``torch.gather(x, ...)`` and
``x.gather(...)``; the functions (with their docstrings) live in the family modules
(``_functional``, ``_reduce``, ``_shape``, ``_indexing``, ``_linalg``)."""

from rustgrad import _functional, _indexing, _linalg, _reduce, _shape
from rustgrad import _rustgrad as _C
from rustgrad._rustgrad import Tensor

# Method name -> function, by the module that defines the function.
_FROM_FUNCTIONAL = ("fmod", "maximum", "minimum", "logical_and", "logical_or", "logical_xor", "addcmul", "addcdiv",
                    "add", "sub", "subtract", "div", "divide")
_FROM_REDUCE = ("max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "prod", "var", "std", "norm", "logsumexp",
                "all", "any", "count_nonzero", "cumsum", "cumprod", "softmax", "log_softmax", "sort", "argsort",
                "msort", "topk", "kthvalue", "median", "mode", "nansum", "nanmean", "isnan", "isinf", "isposinf",
                "isneginf", "isfinite", "isreal", "nan_to_num", "isclose", "allclose", "equal")
_FROM_SHAPE = ("split", "chunk", "tensor_split", "unbind", "fliplr", "flipud", "tile", "repeat_interleave", "tril",
               "triu", "diagonal", "diag", "diag_embed", "trace", "unique", "bincount", "narrow_copy", "movedim",
               "unflatten", "roll")
_FROM_INDEXING = ("gather", "scatter", "scatter_add", "index_select", "index_add", "index_copy", "index_fill",
                  "masked_fill", "masked_select", "masked_scatter", "nonzero", "argwhere", "take", "take_along_dim")
_FROM_LINALG = ("matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv", "baddbmm",
                "addbmm")


def _commit(self, result):
    """Write ``result`` into ``self`` in place, taking over its autograd history."""
    _C._commit_inplace(self, result)
    return self


class FunctionMethods:
    """Methods whose PyTorch signature differs from the function's, and in-place forms."""

    def where(self, condition, y):
        """``where(condition, y)``: ``torch.where(condition, self, y)``."""
        return _functional.where(condition, self, y)

    def flip(self, *dims):
        """``flip(*dims)``: the elements reversed along ``dims`` (a copy)."""
        return _shape._flip_method(self, *dims)

    def repeat(self, *sizes):
        """``repeat(*sizes)``: tile the tensor ``sizes`` times along each dim."""
        return _shape._repeat(self, *sizes)

    def moveaxis(self, source, destination):
        """``moveaxis(source, destination)``: alias of :meth:`movedim`."""
        return _shape.movedim(self, source, destination)

    def tril_(self, diagonal=0):
        """``tril_(diagonal=0)``: :meth:`tril` in place."""
        return self.copy_(_shape.tril(self, diagonal))

    def triu_(self, diagonal=0):
        """``triu_(diagonal=0)``: :meth:`triu` in place."""
        return self.copy_(_shape.triu(self, diagonal))

    def div_(self, other, *, rounding_mode=None):
        """``div_(other, *, rounding_mode=None)``: :meth:`div` in place."""
        return _functional._div_(self, other, rounding_mode=rounding_mode)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        """``addcmul_(tensor1, tensor2, *, value=1)``: ``self += value * tensor1 * tensor2``."""
        return _functional._addcmul_(self, tensor1, tensor2, value=value)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        """``addcdiv_(tensor1, tensor2, *, value=1)``: ``self += value * tensor1 / tensor2``."""
        return _functional._addcdiv_(self, tensor1, tensor2, value=value)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        """``nan_to_num_(nan=0.0, posinf=None, neginf=None)``: :meth:`nan_to_num` in place."""
        return self.copy_(_reduce.nan_to_num(self, nan, posinf, neginf))

    def cumsum_(self, dim, *, dtype=None):
        """``cumsum_(dim)``: :meth:`cumsum` in place."""
        return self.copy_(_reduce.cumsum(self, dim, dtype=dtype))

    def cumprod_(self, dim, *, dtype=None):
        """``cumprod_(dim)``: :meth:`cumprod` in place."""
        return self.copy_(_reduce.cumprod(self, dim, dtype=dtype))

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        """``scatter_(dim, index, src=None, value=None, *, reduce=None)``: :meth:`scatter` in place."""
        return _commit(self, _indexing.scatter(self, dim, index, src, value, reduce=reduce))

    def scatter_add_(self, dim, index, src):
        """``scatter_add_(dim, index, src)``: :meth:`scatter_add` in place."""
        return _commit(self, _indexing.scatter_add(self, dim, index, src))

    def index_add_(self, dim, index, source, *, alpha=1):
        """``index_add_(dim, index, source, *, alpha=1)``: :meth:`index_add` in place."""
        return _commit(self, _indexing.index_add(self, dim, index, source, alpha=alpha))

    def index_copy_(self, dim, index, source):
        """``index_copy_(dim, index, source)``: :meth:`index_copy` in place."""
        return _commit(self, _indexing.index_copy(self, dim, index, source))

    def index_fill_(self, dim, index, value):
        """``index_fill_(dim, index, value)``: :meth:`index_fill` in place."""
        return _commit(self, _indexing.index_fill(self, dim, index, value))

    def masked_fill_(self, mask, value):
        """``masked_fill_(mask, value)``: :meth:`masked_fill` in place."""
        return _commit(self, _indexing.masked_fill(self, mask, value))

    def masked_scatter_(self, mask, source):
        """``masked_scatter_(mask, source)``: :meth:`masked_scatter` in place."""
        return _commit(self, _indexing.masked_scatter(self, mask, source))

    __getitem__ = _indexing._getitem
    __setitem__ = _indexing._setitem

    def __matmul__(self, other):
        return _linalg.matmul(self, other) if isinstance(other, Tensor) else NotImplemented

    def __rmatmul__(self, other):
        return _linalg.matmul(other, self) if isinstance(other, Tensor) else NotImplemented


def methods():
    """``{name: callable}`` for every method of this module's kind."""
    table = {}
    for module, names in ((_functional, _FROM_FUNCTIONAL), (_reduce, _FROM_REDUCE), (_shape, _FROM_SHAPE),
                          (_indexing, _FROM_INDEXING), (_linalg, _FROM_LINALG)):
        for name in names:
            table[name] = getattr(module, name)
    for name, value in vars(FunctionMethods).items():
        if not name.startswith("__") or name in ("__getitem__", "__setitem__", "__matmul__", "__rmatmul__"):
            table[name] = value
    return table
