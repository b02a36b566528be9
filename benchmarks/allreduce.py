"""All-reduce bus bandwidth against message size: rustgrad.distributed (MPI) beside
torch.distributed on gloo, same machine, same run.

    python benchmarks/allreduce.py                      # 2 and 4 ranks, 4 KB .. 256 MB
    python benchmarks/allreduce.py --ranks 2 --max-mb 16
    python benchmarks/allreduce.py --mpi-args "--mca btl_vader_single_copy_mechanism cma"

Bus bandwidth is nccl-tests' measure: bytes / time * 2 (n - 1) / n, the traffic each rank's link
carries in a ring all-reduce, so numbers for different rank counts compare. Each size runs
enough iterations for about --seconds (at least 3) after a warm-up; the median of 3 such
batches is reported. Every rank uses one compute thread.
"""

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.join(os.path.dirname(HERE), "python")
MPI_FLAGS = ["--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo"]


def mpi_flags(n, extra):
    """mpirun flags for n local ranks: the launcher's defaults (no single-copy CMA, which
    containers often forbid) unless ``extra`` chooses a single-copy mechanism; --oversubscribe only
    when there are more ranks than cores (it makes idle ranks yield, which costs latency)."""
    flags = list(MPI_FLAGS)
    if "single_copy" not in extra:
        flags += ["--mca", "btl_vader_single_copy_mechanism", "none"]
    if n > (os.cpu_count() or 1):
        flags.append("--oversubscribe")
    return flags + shlex.split(extra)


def sizes(max_mb):
    s, out = 4096, []
    while s <= max_mb * (1 << 20):
        out.append(s)
        s *= 4
    return out


def worker(lib, max_mb, seconds):
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))
    if lib == "rustgrad":
        sys.path.insert(0, PY)
        import rustgrad as rg
        import rustgrad.distributed as dist

        dist.init_process_group("mpi")

        def make(n):
            return rg.ones(n)

        def allreduce(t):
            dist.all_reduce(t)

        def barrier():
            dist.barrier()
    else:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29611")
        dist.init_process_group("gloo", rank=rank, world_size=world)

        def make(n):
            return torch.ones(n)

        def allreduce(t):
            dist.all_reduce(t)

        def barrier():
            dist.barrier()

    for nbytes in sizes(max_mb):
        t = make(nbytes // 4)
        allreduce(t)
        allreduce(t)
        barrier()
        t0 = time.perf_counter()
        allreduce(t)
        one = time.perf_counter() - t0
        iters = max(3, int(seconds / max(one, 1e-6) / 3))
        # every rank must run the same count: take rank 0's
        it = make(1)
        it.fill_(iters if rank == 0 else 0)
        allreduce(it)
        iters = int(it[0].item())
        runs = []
        for _ in range(3):
            barrier()
            t0 = time.perf_counter()
            for _ in range(iters):
                allreduce(t)
            runs.append((time.perf_counter() - t0) / iters)
        sec = statistics.median(runs)
        busbw = nbytes / sec * 2 * (world - 1) / world / 1e9
        if rank == 0:
            print(f"RESULT {lib} {world} {nbytes} {sec * 1e6:.1f} {busbw:.3f}", flush=True)
        del t
    dist.destroy_process_group()


def launch(lib, n, max_mb, seconds, mpi_args):
    cmd = ["mpirun", "-n", str(n), *mpi_flags(n, mpi_args)]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, os.path.abspath(__file__), "--worker", lib, "--max-mb", str(max_mb),
            "--seconds", str(seconds)]
    env = dict(os.environ, RUSTGRAD_NUM_THREADS="1", OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        print(p.stdout[-2000:], p.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"{lib} on {n} ranks failed")
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT"):
            _, _, _, nbytes, us, bw = line.split()
            res[int(nbytes)] = (float(us), float(bw))
    return res


def human(nbytes):
    for unit, f in (("MB", 1 << 20), ("KB", 1 << 10)):
        if nbytes >= f:
            return f"{nbytes // f} {unit}"
    return f"{nbytes} B"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ranks", default="2,4")
    p.add_argument("--max-mb", type=int, default=256)
    p.add_argument("--seconds", type=float, default=0.6, help="time budget per size and batch")
    p.add_argument("--mpi-args", default="", help="extra mpirun arguments")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.worker, a.max_mb, a.seconds)
    if shutil.which("mpirun") is None:
        raise SystemExit("mpirun not found")
    try:
        import torch.distributed  # noqa: F401

        libs = ["rustgrad", "torch"]
    except ImportError:
        libs = ["rustgrad"]
    print(f"all-reduce of float32 tensors, one thread per rank; mpirun extra args: {a.mpi_args or '(none)'}\n")
    for n in (int(x) for x in a.ranks.split(",")):
        res = {lib: launch(lib, n, a.max_mb, a.seconds, a.mpi_args) for lib in libs}
        head = "| size | rustgrad (MPI) µs | rustgrad GB/s |"
        if "torch" in res:
            head += " torch gloo µs | torch gloo GB/s | rustgrad / gloo |"
        print(f"**{n} ranks** (bus bandwidth)\n\n{head}")
        print("|" + "---|" * (head.count("|") - 1))
        for nbytes in sizes(a.max_mb):
            us, bw = res["rustgrad"][nbytes]
            row = f"| {human(nbytes)} | {us:.1f} | {bw:.4g} |"
            if "torch" in res:
                tus, tbw = res["torch"][nbytes]
                row += f" {tus:.1f} | {tbw:.4g} | {tus / us:.2f}x |"
            print(row)
        print()


if __name__ == "__main__":
    main()
