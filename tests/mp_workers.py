"""Functions run in child processes by test_multiprocessing.py (importable under ``spawn``)."""

import rustgrad as rg
import rustgrad.nn.functional as F


def fill_from_queue(q_in, q_out):
    """Receive a tensor, write into it in place, send back a view of it."""
    t = q_in.get()
    t.add_(10.0)
    q_out.put((t.is_shared(), t[1:]))
    q_in.get()  # wait until the parent is done with what we sent


def hogwild_worker(rank, model, x, y, steps, lr):
    """Plain SGD on this worker's half of the data, updating the shared parameters in place."""
    rg.manual_seed(rank)
    n = x.shape[0] // 2
    xs, ys = x[rank * n:(rank + 1) * n], y[rank * n:(rank + 1) * n]
    for step in range(steps):
        i = (step * 16) % n
        loss = F.mse_loss(model(xs[i:i + 16]), ys[i:i + 16])
        model.zero_grad()
        loss.backward()
        with rg.no_grad():
            for p in model.parameters():
                p.sub_(lr * p.grad)


def fail(rank, message):
    if rank == 1:
        raise ValueError(message)
