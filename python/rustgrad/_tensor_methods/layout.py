"""View and layout methods of ``Tensor``, and the flags and properties PyTorch programs read
(``is_cuda``, ``is_mps``, ``layout``, ``nbytes`` ...)."""

import numpy as np

from rustgrad import _rustgrad as _C


class _StorageView:
    """Minimal stand-in for ``untyped_storage()``: identity and size for sharing checks."""

    def __init__(self, t):
        self._t = t

    def data_ptr(self):
        return self._t.data_ptr() - self._t.storage_offset() * self._t.element_size()

    def nbytes(self):
        return self._t.numel() * self._t.element_size()

    def size(self):
        return self.nbytes()


class LayoutMethods:
    """Installed onto ``Tensor`` by :func:`rustgrad._tensor_methods.install`."""

    def view_as(self, other):
        """``view_as(other)``: ``view(other.shape)``."""
        return self.view(*other.shape)

    def reshape_as(self, other):
        """``reshape_as(other)``: ``reshape(other.shape)``."""
        return self.reshape(*other.shape)

    def expand_as(self, other):
        """``expand_as(other)``: ``expand(other.shape)``."""
        return self.expand(*other.shape)

    def broadcast_to(self, size):
        """``broadcast_to(size)``: ``expand(size)``."""
        return self.expand(*size)

    def swapaxes(self, axis0, axis1):
        """``swapaxes(axis0, axis1)``: ``transpose(axis0, axis1)``."""
        return self.transpose(axis0, axis1)

    def swapdims(self, dim0, dim1):
        """``swapdims(dim0, dim1)``: ``transpose(dim0, dim1)``."""
        return self.transpose(dim0, dim1)

    def transpose_(self, dim0, dim1):
        """``transpose_(dim0, dim1)``: :meth:`transpose` in place."""
        return self.set_(self.transpose(dim0, dim1))

    def t_(self):
        """``t_()``: :meth:`t` in place."""
        return self.set_(self.t())

    def unsqueeze_(self, dim):
        """``unsqueeze_(dim)``: :meth:`unsqueeze` in place."""
        return self.set_(self.unsqueeze(dim))

    def squeeze_(self, dim=None):
        """``squeeze_(dim=None)``: :meth:`squeeze` in place."""
        return self.set_(self.squeeze(dim))

    def ravel(self):
        """``ravel()``: the elements as a 1-D tensor (a view when contiguous)."""
        return self.reshape(-1)

    def as_strided(self, size, stride, storage_offset=None):
        """``as_strided(size, stride, storage_offset=None)``: a view with an explicit layout."""
        offset = self.storage_offset() if storage_offset is None else storage_offset
        return _C._as_strided(self, list(size), list(stride), offset)

    def dim_order(self):
        """``dim_order()``: the dims from outermost to innermost in memory."""
        return tuple(np.argsort([-s for s in self.stride()], kind="stable"))

    def storage_size(self):
        """The number of elements of the tensor's storage that it covers."""
        return self.numel()

    def untyped_storage(self):
        """``untyped_storage()``: an object with the storage's ``data_ptr()`` and ``nbytes()``."""
        return _StorageView(self)

    def is_shared(self):
        """``is_shared()``: whether this tensor's storage is in shared memory (see ``share_memory_``)."""
        from rustgrad.multiprocessing.shared_tensor import is_shared

        return is_shared(self)

    def share_memory_(self):
        """``share_memory_()``: move the storage into shared memory in place (every view sees it), so
        the tensor can go through a ``rustgrad.multiprocessing`` Queue without a copy; returns self."""
        from rustgrad.multiprocessing.shared_tensor import share_memory_

        return share_memory_(self)

    def pin_memory(self, device=None):
        """``pin_memory()``: returns self (no pinned host memory)."""
        return self

    def is_pinned(self, device=None):
        """``is_pinned()``: False."""
        return False

    def get_device(self):
        """``get_device()``: -1 for a CPU tensor, else the device index."""
        return -1 if self.device.type == "cpu" else self.device.index

    def apply_(self, callable):
        """``apply_(callable)``: apply a Python function to every element, in place (CPU)."""
        from rustgrad._tensor_methods.conversion import apply_numpy

        return self.copy_(apply_numpy(self, callable))

    def map_(self, tensor, callable):
        """``map_(tensor, callable)``: ``self[i] = callable(self[i], tensor[i])``, in place (CPU)."""
        from rustgrad._tensor_methods.conversion import apply_numpy

        return self.copy_(apply_numpy(self, callable, tensor))

    @property
    def is_xpu(self):
        """False: rustgrad has no XPU backend."""
        return False

    @property
    def is_mps(self):
        """False: the GPU backend is wgpu (see ``is_wgpu``), not MPS."""
        return False

    @property
    def is_meta(self):
        """False: no meta (shape-only) tensors."""
        return False

    @property
    def is_sparse(self):
        """False: tensors are dense."""
        return False

    @property
    def is_quantized(self):
        """False: no quantized tensors."""
        return False

    @property
    def is_nested(self):
        """False: no nested tensors."""
        return False

    @property
    def layout(self):
        """``torch.strided``: every tensor is dense and strided."""
        return "torch.strided"

    @property
    def nbytes(self):
        """Bytes held by the elements: ``numel() * element_size()``."""
        return self.numel() * self.element_size()

    @property
    def itemsize(self):
        """Bytes per element (``element_size()``)."""
        return self.element_size()

    @property
    def H(self):
        """The conjugate transpose; ``T`` for real tensors."""
        return self.T

    @property
    def real(self):
        """The real part: the tensor itself (no complex dtypes)."""
        return self
