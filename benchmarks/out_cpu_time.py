"""``out=`` before/after check that survives a loaded machine: CPU seconds and minor page faults
per call (from getrusage) besides the best wall time, for ``add(a, b, out=o)`` and
``add(a * b, 1, out=o)`` on 1M float32.

    PYTHONPATH=python python benchmarks/out_cpu_time.py rustgrad   # or torch, numpy
"""

import resource
import sys
import time

import numpy as np

N_ELEMS = 1 << 20
CALLS = 300


def _workloads(lib):
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(N_ELEMS).astype(np.float32)
    b_np = rng.standard_normal(N_ELEMS).astype(np.float32)
    if lib == "numpy":
        a, b, o = a_np, b_np, np.zeros(N_ELEMS, np.float32)
        return {"add out=": lambda: np.add(a, b, out=o), "a*b+1 out=": lambda: np.add(a * b, 1, out=o)}
    m = __import__(lib)
    m.set_num_threads(2)
    a, b = m.from_numpy(a_np.copy()), m.from_numpy(b_np.copy())
    o = m.from_numpy(np.zeros(N_ELEMS, np.float32))
    return {"add out=": lambda: m.add(a, b, out=o), "a*b+1 out=": lambda: m.add(a * b, 1, out=o)}


def main():
    lib = sys.argv[1] if len(sys.argv) > 1 else "rustgrad"
    for name, f in _workloads(lib).items():
        for _ in range(20):
            f()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        walls = []
        for _ in range(CALLS):
            t = time.perf_counter()
            f()
            walls.append(time.perf_counter() - t)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / CALLS
        faults = (r1.ru_minflt - r0.ru_minflt) / CALLS
        best = min(walls)
        # bandwidth counts the logical traffic: two inputs read, one output written
        print(f"{lib:9s} {name:11s} cpu {cpu * 1e6:8.1f} us/call  minflt {faults:7.1f}/call  "
              f"best wall {best * 1e6:8.1f} us  ({12 * N_ELEMS / best / 1e9:5.1f} GB/s at best)")


if __name__ == "__main__":
    main()
