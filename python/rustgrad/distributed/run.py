"""``python -m rustgrad.distributed.run``: torchrun's shape, on ``mpirun``.

    python -m rustgrad.distributed.run --nproc-per-node 4 train.py --epochs 3

starts 4 ranks of ``train.py`` on this machine by exec'ing ``mpirun``. Each rank runs through a
small bootstrap that sets torchrun's environment variables (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) from MPI's before the
script starts, so scripts that read them work unchanged. For several machines use ``mpirun
--hostfile`` or ``srun`` directly (see docs/distributed.md); ``--nnodes`` above 1 is refused
with that advice.

One machine: ranks talk through shared memory (``btl self,vader``), and MPI's out-of-band
traffic stays on the loopback interface. As with torchrun, each rank gets one compute thread
(``RUSTGRAD_NUM_THREADS=1``, ``OMP_NUM_THREADS=1``) unless those are already set. Extra mpirun
options: ``--mpi-args "..."`` or the ``RUSTGRAD_MPIRUN_ARGS`` environment variable.
"""

import argparse
import os
import runpy
import shlex
import shutil
import sys


def _parser():
    p = argparse.ArgumentParser(prog="python -m rustgrad.distributed.run",
                                description="Start a training script on N local ranks through mpirun.")
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc_per_node", default="1",
                   help="ranks to start: a number, 'cpu'/'auto' (one per CPU core) or 'gpu' (1)")
    p.add_argument("--nnodes", default="1", help="only 1 (for more machines use mpirun --hostfile or srun)")
    p.add_argument("--node-rank", "--node_rank", dest="node_rank", default="0")
    p.add_argument("--master-addr", "--master_addr", dest="master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", dest="master_port", default="29500")
    p.add_argument("--standalone", action="store_true", help="accepted (one machine is the only mode)")
    p.add_argument("--rdzv-backend", "--rdzv_backend", dest="rdzv_backend", default=None)
    p.add_argument("--rdzv-endpoint", "--rdzv_endpoint", dest="rdzv_endpoint", default=None)
    p.add_argument("--rdzv-id", "--rdzv_id", dest="rdzv_id", default=None)
    p.add_argument("--max-restarts", "--max_restarts", dest="max_restarts", type=int, default=0)
    p.add_argument("-m", "--module", action="store_true", help="run the script argument as a module (python -m)")
    p.add_argument("--no-python", "--no_python", dest="no_python", action="store_true",
                   help="run the script argument as an executable, not through Python")
    p.add_argument("--mpi-args", "--mpi_args", dest="mpi_args", default="", help="extra arguments for mpirun")
    p.add_argument("--dry-run", action="store_true", help="print the mpirun command instead of running it")
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _nproc(value):
    if value in ("cpu", "auto"):
        return os.cpu_count() or 1
    if value == "gpu":
        return 1
    n = int(value)
    if n < 1:
        raise SystemExit(f"--nproc-per-node must be at least 1, got {n}")
    return n


def mpirun_command(args):
    """The mpirun command line for parsed launcher ``args``."""
    if args.nnodes not in ("1", "1:1"):
        raise SystemExit("rustgrad.distributed.run starts ranks on this machine only; for several machines run "
                         "`mpirun --hostfile hosts -n N python train.py` or `srun -n N python train.py` "
                         "(see docs/distributed.md)")
    if args.max_restarts:
        raise SystemExit("--max-restarts is not supported: MPI jobs end when a rank fails")
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit("mpirun not found: install Open MPI (apt install openmpi-bin libopenmpi-dev)")
    n = _nproc(args.nproc_per_node)
    cmd = [mpirun, "-n", str(n), "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo",
           # the single-copy (CMA) path needs ptrace rights that containers often lack
           "--mca", "btl_vader_single_copy_mechanism", "none"]
    if n > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += shlex.split(os.environ.get("RUSTGRAD_MPIRUN_ARGS", "")) + shlex.split(args.mpi_args)
    for k, v in (("MASTER_ADDR", args.master_addr), ("MASTER_PORT", args.master_port)):
        cmd += ["-x", f"{k}={v}"]
    if args.no_python:
        return cmd + [args.training_script, *args.training_script_args]
    boot = [sys.executable, "-m", "rustgrad.distributed.run", "--_bootstrap"]
    if args.module:
        boot.append("-m")
    return cmd + boot + [args.training_script, *args.training_script_args]


def _rank_env():
    """torchrun's variables, from what the MPI launcher (Open MPI, PMIx, Slurm) set."""
    env = os.environ

    def first(*names, default=None):
        for k in names:
            if k in env:
                return env[k]
        return default

    rank = first("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", default="0")
    size = first("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", default="1")
    local = first("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID", default="0")
    local_size = first("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", default=size)
    env.update(RANK=rank, WORLD_SIZE=size, LOCAL_RANK=local, LOCAL_WORLD_SIZE=local_size,
               GROUP_RANK=env.get("OMPI_COMM_WORLD_NODE_RANK", "0"), ROLE_RANK=rank, ROLE_WORLD_SIZE=size)
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")
    if int(size) > 1:
        env.setdefault("RUSTGRAD_NUM_THREADS", "1")
        env.setdefault("OMP_NUM_THREADS", "1")


def _bootstrap(argv):
    as_module = argv[:1] == ["-m"]
    if as_module:
        argv = argv[1:]
    _rank_env()
    target, rest = argv[0], argv[1:]
    if as_module:
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.argv = [target, *rest]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
        runpy.run_path(target, run_name="__main__")


def main(argv=None):
    """Entry point: parse torchrun-style arguments and exec mpirun."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--_bootstrap"]:
        return _bootstrap(argv[1:])
    args = _parser().parse_args(argv)
    cmd = mpirun_command(args)
    if args.dry_run:
        print(shlex.join(cmd))
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
