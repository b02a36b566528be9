"""``new_*`` constructors, random fills and in-place storage methods of ``Tensor``."""

from rustgrad import _rustgrad as _C
from rustgrad.autograd.grad_mode import no_grad


class ConstructionMethods:
    """Installed onto ``Tensor`` by :func:`rustgrad._tensor_methods.install`."""

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        """``new_zeros(*size)``: zeros with ``self``'s dtype and device unless given."""
        from rustgrad import _creation

        return _creation.zeros(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        """``new_ones(*size)``: ones with ``self``'s dtype and device unless given."""
        from rustgrad import _creation

        return _creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                              requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False, **kwargs):
        """``new_empty(*size)``: uninitialised, with ``self``'s dtype and device unless given."""
        from rustgrad import _creation

        return _creation.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                               requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``new_full(size, fill_value)``: filled, with ``self``'s dtype and device unless given."""
        t = _C._full(list(size), fill_value, dtype or self.dtype)._to_device(device or self.device)
        return t.requires_grad_(requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """``new_tensor(data)``: a tensor of ``data`` with ``self``'s dtype and device unless given."""
        t = _C.tensor(data, dtype or self.dtype)._to_device(device or self.device)
        return t.requires_grad_(requires_grad)

    def set_(self, source):
        """``set_(source)``: ``self`` takes ``source``'s storage and layout."""
        self.data = source
        return self

    def resize_(self, *sizes, memory_format=None):
        """``resize_(*sizes)``: give ``self`` the shape ``sizes`` in place. The first
        ``min(old, new)`` elements (in row-major order) keep their values; any new ones are
        uninitialised. Keeps the memory when the element count is unchanged and ``self`` is
        contiguous."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        shape = tuple(int(s) for s in sizes)
        if any(s < 0 for s in shape):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
        if self.requires_grad and _C.is_grad_enabled():
            raise RuntimeError("cannot resize variables that require grad")
        if tuple(self.shape) == shape:
            return self
        n = 1
        for s in shape:
            n *= s
        with no_grad():
            if n == self.numel() and self.is_contiguous():
                self.data = self.view(*shape) if shape else self.reshape(())
                return self
            fresh = _C._empty(list(shape), self.dtype)._to_device(self.device)
            keep = min(n, self.numel())
            if keep:
                fresh.view(-1).narrow(0, 0, keep).copy_(self.reshape(-1).narrow(0, 0, keep))
            self.data = fresh
        return self

    def resize_as_(self, other, memory_format=None):
        """``resize_as_(other)``: ``resize_(other.shape)``."""
        return ConstructionMethods.resize_(self, tuple(other.shape))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """``uniform_(a=0, b=1)``: fill with samples uniform on [a, b)."""
        from rustgrad._random import _fill_uniform_

        return _fill_uniform_(self, a, b, generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """``normal_(mean=0, std=1)``: fill with normal samples."""
        from rustgrad._random import _fill_normal_

        return _fill_normal_(self, mean, std, generator)

    def random_(self, from_=None, to=None, *, generator=None):
        """``random_(from=0, to=None)``: fill with integers uniform on [from, to) (``random_(to)``
        means [0, to); no bounds: [0, 2**mantissa] for floats, the dtype's range for ints), drawn
        as PyTorch's CPU generator draws them."""
        from rustgrad._random import _random_ as fill

        return fill(self, from_, to, generator=generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        """``exponential_(lambd=1)``: fill with exponential samples of rate ``lambd``."""
        from rustgrad._random import _exponential_ as fill

        return fill(self, lambd, generator=generator)

    def bernoulli(self, p=None, *, generator=None):
        """``bernoulli(p=None)``: 0/1 samples with probability ``p`` (``self``'s values by default)."""
        from rustgrad import _random

        return _random.bernoulli(self, p, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        """``bernoulli_(p=0.5)``: fill with 0/1 samples of probability ``p`` (a number or tensor)."""
        from rustgrad import _random

        return _random._bernoulli_(self, p, generator=generator)
