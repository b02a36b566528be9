"""Finite-difference gradient checks (``torch.autograd.gradcheck``)."""

import numpy as np

from rustgrad import _rustgrad as _C


def _as_tuple(x):
    return (x,) if isinstance(x, _C.Tensor) else tuple(x)


def _flat_outputs(fn, inputs):
    out = fn(*inputs)
    return _as_tuple(out)


def _numerical_jacobian(fn, inputs, i, eps):
    """d(all outputs, flattened)/d(input i, flattened) by central differences."""
    import rustgrad

    x = inputs[i]
    base = x.detach().numpy().copy()
    flat = base.reshape(-1)
    cols = []
    for k in range(flat.size):
        orig = flat[k]
        outs = []
        for sign in (1, -1):
            flat[k] = orig + sign * eps
            trial = list(inputs)
            trial[i] = rustgrad.tensor(base.copy(), dtype=x.dtype)
            with rustgrad.no_grad():
                o = _flat_outputs(fn, trial)
            outs.append(np.concatenate([t.detach().numpy().astype(np.float64).reshape(-1) for t in o]))
        flat[k] = orig
        cols.append((outs[0] - outs[1]) / (2 * eps))
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def _analytical_jacobian(fn, inputs, i):
    import rustgrad

    outs = _flat_outputs(fn, inputs)
    rows = []
    for o in outs:
        if not o.requires_grad:
            rows.extend([np.zeros(inputs[i].numel())] * o.numel())
            continue
        for k in range(o.numel()):
            g = np.zeros(o.numel(), dtype=np.float64)
            g[k] = 1.0
            gt = rustgrad.tensor(g.reshape(tuple(o.shape)), dtype=o.dtype)
            (gi,) = _C.grad([o], [inputs[i]], [gt], True, False, True)
            rows.append(np.zeros(inputs[i].numel()) if gi is None else gi.detach().numpy().astype(np.float64).reshape(-1))
    return np.stack(rows, axis=0) if rows else np.zeros((0, inputs[i].numel()))


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Compare analytical gradients with central finite differences, like ``torch.autograd.gradcheck``.

    Inputs that require grad should be float64 for the default tolerances to be meaningful.
    """
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, _C.Tensor) or not x.requires_grad:
            continue
        num = _numerical_jacobian(func, inputs, i, eps)
        ana = _analytical_jacobian(func, inputs, i)
        if num.shape != ana.shape or not np.allclose(num, ana, atol=atol, rtol=rtol):
            if raise_exception:
                raise RuntimeError(
                    f"Jacobian mismatch for output 0 with respect to input {i},\nnumerical:{num}\nanalytical:{ana}\n"
                )
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **kwargs):
    """Check second derivatives: gradcheck of the function that returns first derivatives."""
    import rustgrad

    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]
    outs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [rustgrad.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in outs]

    def first(*xs):
        # The numerical pass calls this under no_grad with fresh inputs: the first derivative
        # still needs a graph, so re-enable grad and mark those inputs.
        xs = list(xs)
        for i in diff:
            if not xs[i].requires_grad:
                xs[i] = xs[i].detach().requires_grad_(True)
        with rustgrad.enable_grad():
            o = _flat_outputs(func, xs)
            gs = _C.grad(list(o), [xs[i] for i in diff], list(grad_outputs), True, True, True)
        return tuple(g if g is not None else rustgrad.zeros_like(xs[i]) for g, i in zip(gs, diff))

    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
