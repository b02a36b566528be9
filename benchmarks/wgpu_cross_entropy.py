"""Mean cross entropy forward over a long batch on the wgpu device: wall time per call (median of
5 after a warm-up, each ending in ``.item()``) and dispatches per call.

    PYTHONPATH=python python benchmarks/wgpu_cross_entropy.py [rows] [classes]

Defaults: 200000 rows x 10 classes (language-model-sized token counts, where a single-workgroup
reduction is serial).
"""

import statistics
import sys
import time

import numpy as np
import rustgrad as rg
import rustgrad.nn.functional as F


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    classes = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rng = np.random.default_rng(0)
    x = rg.tensor(rng.normal(size=(rows, classes)).astype(np.float32), device="wgpu")
    t = rg.tensor(rng.integers(0, classes, size=rows).astype(np.int64), device="wgpu")
    F.cross_entropy(x, t).item()
    times, dispatches = [], 0
    for _ in range(5):
        rg.wgpu.synchronize()
        s0 = rg.wgpu.stats()["dispatches"]
        t0 = time.perf_counter()
        value = F.cross_entropy(x, t).item()
        times.append(time.perf_counter() - t0)
        dispatches = rg.wgpu.stats()["dispatches"] - s0
    print(f"{rg.wgpu.get_device_name()}: {rows} x {classes} mean cross entropy forward: "
          f"median {statistics.median(times) * 1e3:.1f} ms (runs {', '.join(f'{s * 1e3:.1f}' for s in times)}), "
          f"{dispatches} dispatches, loss {value:.6f}")


if __name__ == "__main__":
    main()
