"""Implicit-GEMM convolution vs the legacy im2col path on the wgpu backend, side by side.

    PYTHONPATH=python python benchmarks/wgpu_conv_paths.py [--reps 3]

Each row: conv2d forward + backward (input, weight and bias gradients), the best of --reps calls
each ending with ``rustgrad.wgpu.synchronize()``, for the implicit GEMM (default variant choice)
and the im2col path (``rustgrad.wgpu.matmul_variant("legacy")``, which also selects the legacy
matmul), in one process after a warm-up call of each. Times are process CPU ms (lavapipe runs
the kernels on this process's threads, so CPU time is the work done and is steadier than wall
time on a shared machine; ``--wall`` reports wall ms instead). The last row is a whole MNIST-CNN
training step (examples/cnn.py, SGD, eval mode so dropout is off).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))

import rustgrad as rg  # noqa: E402
import rustgrad.nn.functional as F  # noqa: E402
from cnn import Net  # noqa: E402

CONVS = [
    # (N, C, H, W, O, k, stride, pad, dilation, groups)
    (8, 16, 16, 16, 16, 3, 1, 1, 1, 1),
    (16, 32, 14, 14, 64, 3, 1, 1, 1, 1),
    (8, 64, 8, 8, 64, 1, 1, 0, 1, 1),
    (8, 16, 16, 16, 32, 3, 2, 1, 1, 1),
    (8, 32, 12, 12, 32, 3, 1, 2, 2, 4),
]


def timed(fn, reps, clock):
    fn()
    rg.wgpu.synchronize()
    ts = []
    for _ in range(reps):
        t0 = clock()
        fn()
        rg.wgpu.synchronize()
        ts.append((clock() - t0) * 1e3)
    return min(ts)


def conv_case(n, c, h, w, o, k, s, p, d, g):
    x = rg.randn(n, c, h, w, device="wgpu", requires_grad=True)
    wt = rg.randn(o, c // g, k, k, device="wgpu", requires_grad=True)
    b = rg.randn(o, device="wgpu", requires_grad=True)

    def run():
        y = F.conv2d(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
        y.sum().backward()
        x.grad = wt.grad = b.grad = None

    return run


def cnn_step(batch=8):
    model = Net().to("wgpu")
    model.eval()  # dropout off: the same work every call
    opt = rg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = rg.randn(batch, 1, 28, 28, device="wgpu")
    y = rg.randint(0, 10, (batch,)).to("wgpu")

    def run():
        opt.zero_grad()
        F.nll_loss(model(x), y).backward()
        opt.step()

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--wall", action="store_true", help="wall-clock ms instead of process CPU ms")
    args = ap.parse_args()
    if not rg.wgpu.is_available():
        print("no wgpu adapter")
        return
    rg.manual_seed(0)
    print("adapter:", rg.wgpu.get_device_name())
    clock = time.perf_counter if args.wall else time.process_time
    unit = "wall ms" if args.wall else "CPU ms"
    print(f"| conv2d fwd+bwd | im2col (legacy) {unit} | implicit GEMM {unit} | implicit / im2col |")
    print("|---|---|---|---|")
    rows = [(f"{n}x{c}x{h}x{w} -> {o}, {k}x{k} s{s} p{p} d{d} g{g}", conv_case(n, c, h, w, o, k, s, p, d, g))
            for (n, c, h, w, o, k, s, p, d, g) in CONVS]
    rows.append(("MNIST CNN training step, batch 8", cnn_step()))
    for name, fn in rows:
        prev = rg.wgpu.matmul_variant("legacy")
        legacy = timed(fn, args.reps, clock)
        rg.wgpu.matmul_variant(prev)
        implicit = timed(fn, args.reps, clock)
        print(f"| {name} | {legacy:.0f} | {implicit:.0f} | {implicit / legacy:.2f}x |")


if __name__ == "__main__":
    main()
