"""Running test scripts under ``mpirun`` from pytest (skipped without MPI, unless
RUSTGRAD_REQUIRE_MPI=1 makes a missing MPI a failure)."""

import os
import shutil
import subprocess
import sys

import pytest
import rustgrad

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "dist_workers")
# The ranks import the rustgrad this test process imported (the installed wheel in CI, a dev build
# locally), never the checkout's python/ (which has no compiled extension in a clean clone).
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(rustgrad.__file__)))

# Root in CI; confined to one machine: shared memory between ranks, out-of-band traffic on loopback.
MPI_FLAGS = ["--oversubscribe", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
             "--mca", "oob_tcp_if_include", "lo"]


def mpi_missing():
    """Why MPI cannot be used here, or None."""
    if shutil.which("mpirun") is None:
        return "mpirun not found (apt install openmpi-bin libopenmpi-dev)"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py not installed (pip install mpi4py)"
    return None


def require_mpi():
    why = mpi_missing()
    if why is None:
        return
    if os.environ.get("RUSTGRAD_REQUIRE_MPI") == "1":
        pytest.fail(f"RUSTGRAD_REQUIRE_MPI=1 but {why}")
    pytest.skip(why)


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = PYTHON_DIR + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("RAYON_NUM_THREADS", "1")
    e.setdefault("OMP_NUM_THREADS", "1")
    e["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    e["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    return e


def run_mpi(script, n, *args, timeout=120):
    """Run ``dist_workers/script`` on ``n`` ranks; returns the CompletedProcess (never hangs past
    ``timeout``)."""
    require_mpi()
    cmd = ["mpirun", "-n", str(n), *MPI_FLAGS]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, os.path.join(WORKERS, script), *map(str, args)]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=timeout)


def check_ok(proc, n, tag="ALL OK"):
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for r in range(n):
        assert f"[{r}] {tag}" in proc.stdout, out[-6000:]
