"""default_collate / default_convert: turn lists of samples into batched tensors."""

import collections.abc
import numbers

import numpy as np

import rustgrad


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_convert(data):
    """Convert NumPy arrays (and containers of them) to tensors without batching."""
    if isinstance(data, rustgrad.Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "OSU":
            return data
        return rustgrad.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, np.generic) and data.dtype.kind not in "OSU":
        return rustgrad.tensor(data.item())
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        return (
            type(data)({k: default_convert(v) for k, v in data.items()})
            if not isinstance(data, collections.defaultdict)
            else {k: default_convert(v) for k, v in data.items()}
        )
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        return [default_convert(d) for d in data]
    return data


def _stack_np(arrays):
    # np.stack does the copy in one native call (GIL released for large arrays).
    return rustgrad.from_numpy(np.ascontiguousarray(np.stack(arrays)))


def default_collate(batch):
    """Batch a list of samples the way ``torch.utils.data.default_collate`` does."""
    elem = batch[0]
    if isinstance(elem, rustgrad.Tensor):
        shape = tuple(elem.shape)
        for i, b in enumerate(batch):
            if tuple(b.shape) != shape:
                raise RuntimeError(
                    f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                    f"and {list(b.shape)} at entry {i}"
                )
        return _stack_np([b.detach().numpy() for b in batch])
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSU":
            raise TypeError(
                f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {elem.dtype}"
            )
        return _stack_np(batch)
    if isinstance(elem, np.generic):
        return rustgrad.from_numpy(np.array(batch))
    if isinstance(elem, bool):
        return rustgrad.tensor(batch, dtype=rustgrad.bool)
    if isinstance(elem, float):
        return rustgrad.tensor(batch, dtype=rustgrad.float64)
    if isinstance(elem, int):
        return rustgrad.tensor(batch, dtype=rustgrad.int64)
    if isinstance(elem, numbers.Number):
        return rustgrad.tensor([float(b) for b in batch], dtype=rustgrad.float64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed
        try:
            return type(elem)(transposed)
        except TypeError:
            return transposed
    if elem is None:
        raise TypeError(
            "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found NoneType"
        )
    if hasattr(elem, "__array__"):
        # e.g. PIL images
        return _stack_np([np.asarray(b) for b in batch])
    raise TypeError(
        "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        f"found {type(elem)}"
    )
