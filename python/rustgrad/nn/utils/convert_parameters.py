"""Flatten parameters into one vector and back."""

import rustgrad

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenates every parameter, flattened, into one 1-D tensor."""
    return rustgrad.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of ``vec`` into each parameter's data."""
    if not isinstance(vec, rustgrad.Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    with rustgrad.no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec.narrow(0, pointer, n).reshape(p.shape))
            pointer += n
