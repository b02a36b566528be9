"""``nn.Parameter`` / ``nn.Buffer``: tensors that modules register automatically."""

from rustgrad import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter"]


class Parameter(Tensor):
    """A tensor that is a module parameter. It aliases the storage of ``data`` (like PyTorch)."""

    def __new__(cls, data=None, requires_grad=True):
        import rustgrad

        if data is None:
            data = rustgrad.empty(0)
        self = Tensor.__new__(cls, data.detach())
        self.requires_grad_(requires_grad)
        return self

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (Parameter, (self.detach(), self.requires_grad))


class Buffer(Tensor):
    """Marks a tensor as a buffer when assigned to a module attribute."""

    def __new__(cls, data=None, *, persistent=True):
        import rustgrad

        if data is None:
            data = rustgrad.empty(0)
        self = Tensor.__new__(cls, data.detach())
        self.persistent = persistent
        return self

    def __init__(self, data=None, *, persistent=True):
        pass


UninitializedParameter = Parameter
