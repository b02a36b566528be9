"""NumPy-style keyword aliases PyTorch accepts: ``axis=`` for ``dim=`` and ``keepdims=`` for
``keepdim=``, on the functions and ``Tensor`` methods where PyTorch's argument parser takes them
(checked against PyTorch 2.15: e.g. ``x.sum(axis=1, keepdims=True)``, ``torch.cat(ts, axis=0)``)."""

import functools

import rustgrad
from rustgrad._rustgrad import Tensor

#: Functions/methods whose ``dim`` may be spelled ``axis``.
AXIS = (
    "sum", "mean", "std", "var", "all", "any", "max", "min", "amax", "amin", "argmax", "argmin", "prod",
    "logsumexp", "median", "nanmedian", "cumsum", "cumprod", "nansum", "nanmean", "std_mean", "var_mean",
    "count_nonzero", "aminmax", "mode", "kthvalue", "softmax", "log_softmax", "sort", "argsort", "topk",
    "squeeze", "unsqueeze", "cummax", "cummin", "logcumsumexp", "diff", "quantile", "nanquantile", "unbind",
    "select", "narrow", "gather", "index_select", "chunk", "cat", "stack", "concat", "concatenate",
    "tensor_split", "take_along_dim", "repeat_interleave",
)
#: Of those, the ones whose ``keepdim`` may be spelled ``keepdims``.
KEEPDIMS = (
    "sum", "mean", "std", "var", "all", "any", "max", "min", "amax", "amin", "argmax", "argmin", "prod",
    "logsumexp", "median", "nanmedian", "nansum", "nanmean", "std_mean", "var_mean", "aminmax", "mode",
    "kthvalue", "quantile", "nanquantile",
)


def _aliased(fn, name, keepdims):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs:
            if "axis" in kwargs:
                if "dim" in kwargs:
                    raise TypeError(f"{name}() got multiple values for argument 'dim'")
                kwargs["dim"] = kwargs.pop("axis")
            if keepdims and "keepdims" in kwargs:
                if "keepdim" in kwargs:
                    raise TypeError(f"{name}() got multiple values for argument 'keepdim'")
                kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    wrapper._dim_aliases = True
    return wrapper


def install():
    """Wrap each listed ``rustgrad.<name>`` and ``Tensor.<name>`` once."""
    for name in AXIS:
        keep = name in KEEPDIMS
        for owner in (rustgrad, Tensor):
            fn = getattr(owner, name, None)
            if fn is None or getattr(fn, "_dim_aliases", False):
                continue
            setattr(owner, name, _aliased(fn, name, keep))
