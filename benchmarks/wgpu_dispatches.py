"""Dispatches per training step and host overhead per recorded op on the wgpu backend.

    PYTHONPATH=python python benchmarks/wgpu_dispatches.py            # fusion as configured
    RUSTGRAD_WGPU_FUSION=0 PYTHONPATH=python python benchmarks/wgpu_dispatches.py

Counts come from ``rustgrad.wgpu.stats()`` (delta over one training step, after a warm-up step
so pipeline compilation is excluded). Host overhead: CPU time to *record* 1000 x
``y = y * 1.0001 + 0.1`` on a 1024-element tensor (2000 ops), without synchronizing inside the
timed region, reported as microseconds per op; the device work is then waited for separately.
The MLP and CNN are the models of examples/mlp.py and examples/cnn.py (same layers, SGD with
momentum 0.9, cross-entropy / log_softmax + NLL), at batch 16 so lavapipe finishes quickly.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import rustgrad as rg  # noqa: E402
import rustgrad.nn.functional as F  # noqa: E402
from cnn import Net  # noqa: E402
from mlp import MLP  # noqa: E402
from rustgrad import nn  # noqa: E402

DEV = "wgpu"


def counters():
    s = rg.wgpu.stats()
    return {k: s.get(k, 0) for k in ("dispatches", "fused_kernels", "fused_stages", "stores_elided")}


def step_dispatches(model, x, y, loss_fn):
    """Stats delta of one SGD training step (after a warm-up step)."""
    opt = rg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    step()
    rg.wgpu.synchronize()
    before = counters()
    step()
    rg.wgpu.synchronize()
    after = counters()
    return {k: after[k] - before[k] for k in after}


def host_overhead(n_iter=1000):
    """Microseconds of CPU time per recorded op for a chain of small elementwise ops."""
    y = rg.ones(1024, device=DEV)
    for _ in range(20):  # warm the pipeline cache
        y = y * 1.0001 + 0.1
    rg.wgpu.synchronize()
    # thread_time: the recording thread only (lavapipe executes submitted work on its own
    # threads of this process, which process_time would count too).
    t0 = time.thread_time()
    w0 = time.perf_counter()
    for _ in range(n_iter):
        y = y * 1.0001 + 0.1
    t1 = time.thread_time()
    w1 = time.perf_counter()
    rg.wgpu.synchronize()
    w2 = time.perf_counter()
    ops = 2 * n_iter
    return {
        "cpu_us_per_op": (t1 - t0) / ops * 1e6,
        "wall_us_per_op_recorded": (w1 - w0) / ops * 1e6,
        "wall_us_per_op_with_sync": (w2 - w0) / ops * 1e6,
        "value": float(y[0].item()),
    }


def main():
    if not rg.wgpu.is_available():
        print("no wgpu adapter")
        return
    rg.manual_seed(0)
    print("adapter:", rg.wgpu.get_device_name())
    print("RUSTGRAD_WGPU_FUSION =", os.environ.get("RUSTGRAD_WGPU_FUSION", "(unset: on)"))
    mlp = MLP().to(DEV)
    xm = rg.randn(16, 1, 28, 28).to(DEV)
    ym = rg.randint(0, 10, (16,)).to(DEV)
    print("MLP step:", step_dispatches(mlp, xm, ym, nn.CrossEntropyLoss()))
    cnn = Net().to(DEV)
    print("CNN step:", step_dispatches(cnn, xm, ym, F.nll_loss))
    print("host overhead (1000 x y = y*1.0001 + 0.1, 1024 elems):", host_overhead())


if __name__ == "__main__":
    main()
