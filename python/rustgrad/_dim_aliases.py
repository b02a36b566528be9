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


def method_aliases(methods):
    """``{name: wrapped}`` for the ``Tensor`` methods (native ones included) that take the aliases;
    ``methods`` is the Python-level method table about to be installed."""
    wrapped = {}
    for name in AXIS:
        fn = methods.get(name, vars(Tensor).get(name))
        if fn is not None and not getattr(fn, "_dim_aliases", False):
            wrapped[name] = _aliased(fn, name, name in KEEPDIMS)
    return wrapped


def install():
    """Wrap each listed ``rustgrad.<name>`` function once (``Tensor`` methods get theirs from
    :func:`method_aliases`, applied by ``rustgrad._tensor_methods.install``)."""
    for name in AXIS:
        fn = getattr(rustgrad, name, None)
        if fn is not None and not getattr(fn, "_dim_aliases", False):
            setattr(rustgrad, name, _aliased(fn, name, name in KEEPDIMS))
