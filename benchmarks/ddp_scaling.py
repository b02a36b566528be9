"""DDP scaling of the example convnet (examples/ddp.py's Net): images/s on 1, 2 and 4 ranks with
one compute thread each, and how much of the gradient communication backward hides.

    python benchmarks/ddp_scaling.py                 # 1, 2, 4 ranks, 32 images per rank per step
    python benchmarks/ddp_scaling.py --ranks 1,2 --steps 20

Weak scaling: every rank trains on its own batch of --batch images (synthetic 28x28 inputs, so
data loading is not measured), so the global batch grows with the ranks. Per rank and step:

- step: forward + backward + SGD step through DDP (the images/s column);
- exposed comm: time backward's last gradient hook spends waiting for all-reduces still in
  flight (communication that was *not* hidden), less the time this rank waits only because
  another rank finished its backward later (skew; clocks are comparable on one machine);
- comm alone: the same bucket all-reduces run back to back after backward, with nothing to
  overlap; hidden = 1 - exposed / comm alone.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
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


def worker(batch, steps, bucket_cap_mb):
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import numpy as np
    import rustgrad as rg
    import rustgrad.distributed as dist
    import rustgrad.nn.functional as F
    from ddp import Net
    from rustgrad.distributed import process_group as pgm
    from rustgrad.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("mpi")
    r, n = dist.get_rank(), dist.get_world_size()
    rg.manual_seed(0)
    model = DDP(Net(), bucket_cap_mb=bucket_cap_mb)
    opt = rg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rs = np.random.default_rng(r)
    x = rg.from_numpy(rs.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = rg.from_numpy(rs.integers(0, 10, size=batch))
    step_t, exposed, alone = [], [], []
    MPI = pgm._mpi()
    for i in range(steps + 3):
        dist.barrier()
        w0 = model._comm_wait_s
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        t1 = time.perf_counter()
        # the same reductions with nothing to overlap
        dist.barrier()
        t2 = time.perf_counter()
        if n > 1:
            reqs = [model._comm.Iallreduce(MPI.IN_PLACE, b.flat, MPI.SUM) for b in model._buckets]
            pgm.wait_all(reqs, model._pg_world, "benchmark")
        t3 = time.perf_counter()
        wait = model._comm_wait_s - w0
        skew = 0.0
        if n > 1:
            ready = np.zeros(n)
            pgm._default_pg()._comm.Allgather(np.array([model._ready_at]), ready)
            skew = ready.max() - model._ready_at
        if i >= 3:  # warm-up
            step_t.append(t1 - t0)
            exposed.append(max(0.0, wait - skew))
            alone.append(t3 - t2)
    stats = np.array([statistics.median(step_t), statistics.median(exposed), statistics.median(alone)])
    every = np.zeros((n, 3))
    pgm._default_pg()._comm.Allgather(stats, every)
    if r == 0:
        s = every.max(axis=0)  # the slowest rank sets the pace
        nbytes = sum(b.flat.nbytes for b in model._buckets)
        print(f"RESULT {n} {batch * n / s[0]:.1f} {s[0] * 1e3:.2f} {s[1] * 1e3:.3f} {s[2] * 1e3:.3f} "
              f"{len(model._buckets)} {nbytes}", flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--bucket-cap-mb", type=float, default=0.025,
                   help="DDP bucket size (small, so this small model's gradients form several buckets)")
    p.add_argument("--mpi-args", default="")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        return worker(a.batch, a.steps, a.bucket_cap_mb)
    print(f"examples/ddp.py Net, {a.batch} images per rank per step, one thread per rank\n")
    print("| ranks | images/s | step ms | exposed comm ms | comm alone ms | hidden by overlap | speed-up |")
    print("|---|---|---|---|---|---|---|")
    base = None
    for n in (int(x) for x in a.ranks.split(",")):
        cmd = ["mpirun", "-n", str(n), *mpi_flags(n, a.mpi_args)]
        if os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd += [sys.executable, os.path.abspath(__file__), "--worker", "--batch", str(a.batch), "--steps",
                str(a.steps), "--bucket-cap-mb", str(a.bucket_cap_mb)]
        env = dict(os.environ, RUSTGRAD_NUM_THREADS="1", OMP_NUM_THREADS="1")
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
        if out.returncode != 0 or line is None:
            print(out.stdout[-2000:], out.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"{n} ranks failed")
        _, _, ips, step_ms, exp_ms, alone_ms, nb, nbytes = line.split()
        ips, exp_ms, alone_ms = float(ips), float(exp_ms), float(alone_ms)
        base = base or ips
        hidden = "n/a" if n == 1 or alone_ms == 0 else f"{max(0.0, 1 - exp_ms / alone_ms) * 100:.0f}%"
        print(f"| {n} | {ips:.0f} | {step_ms} | {exp_ms:.3f} | {alone_ms:.3f} | {hidden} | {ips / base:.2f}x |")
    print(f"\n({nb} buckets, {int(nbytes) / 1e3:.0f} KB of gradients per step)")


if __name__ == "__main__":
    main()
