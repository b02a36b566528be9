"""rustgrad.distributed on MPI: collectives, DDP, failures, launcher and the DDP example.

The multi-rank cases run worker scripts (tests/dist_workers/) under mpirun, several checks per
launch, each bounded by a timeout. Without mpirun/mpi4py they skip, unless RUSTGRAD_REQUIRE_MPI=1.
"""

import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import rustgrad as rg
import rustgrad.distributed as dist
import rustgrad.nn as nn
from mpi_util import HERE, check_ok, env, require_mpi, run_mpi

ROOT = os.path.dirname(HERE)


@pytest.mark.parametrize("n", [2, 4])
def test_collectives_against_numpy(n):
    check_ok(run_mpi("collectives.py", n, timeout=240), n)


def test_wgpu_tensors_stage_through_host_memory():
    if not rg.wgpu.is_available():
        pytest.skip("no wgpu adapter")
    check_ok(run_mpi("collectives.py", 2, "wgpu", timeout=180), 2)


@pytest.mark.parametrize("n", [2, 4])
def test_ddp_matches_one_process_on_the_combined_batch(n):
    check_ok(run_mpi("ddp.py", n, timeout=240), n)


def test_a_stuck_rank_times_out_instead_of_hanging():
    t0 = time.monotonic()
    p = run_mpi("failures.py", 2, "timeout", timeout=90)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    m = re.search(r"\[0\] TIMEOUT after ([\d.]+)s: .*timed out after 3000 ms", p.stdout)
    assert m, out
    assert float(m.group(1)) < 10
    assert "FINISHED" not in p.stdout
    assert time.monotonic() - t0 < 60


def test_a_killed_rank_ends_the_job():
    t0 = time.monotonic()
    p = run_mpi("failures.py", 2, "kill", timeout=90)
    assert p.returncode != 0 and "FINISHED" not in p.stdout, p.stdout + p.stderr
    assert time.monotonic() - t0 < 60


def test_errors_before_init_match_torch():
    msg = "Default process group has not been initialized, please make sure to call init_process_group."
    if dist.is_initialized():
        pytest.skip("a process group is active in this process")
    for fn in (dist.get_rank, dist.get_world_size, dist.get_backend, dist.barrier,
               lambda: dist.all_reduce(rg.ones(2)), lambda: dist.new_group([0])):
        with pytest.raises(ValueError, match=re.escape(msg)):
            fn()
    with pytest.raises(AssertionError, match="Process group cannot be None"):
        dist.destroy_process_group()
    assert dist.is_available() in (True, False) and not dist.is_initialized()
    assert repr(dist.ReduceOp.SUM) == "<RedOpType.SUM: 0>"
    assert [m for m in dist.ReduceOp.RedOpType.__members__][:5] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]


def test_errors_before_init_same_types_as_torch():
    torch = pytest.importorskip("torch")
    import torch.distributed as tdist

    if tdist.is_initialized() or dist.is_initialized():
        pytest.skip("a process group is active in this process")
    for ours, theirs in ((dist.get_rank, tdist.get_rank), (lambda: dist.all_reduce(rg.ones(1)),
                                                           lambda: tdist.all_reduce(torch.ones(1)))):
        with pytest.raises(Exception) as a:
            ours()
        with pytest.raises(Exception) as b:
            theirs()
        assert type(a.value) is type(b.value) and str(a.value) == str(b.value)


def test_single_process_without_mpirun():
    """A script started with plain ``python`` is a world of one."""
    require_mpi()
    code = ("import rustgrad as rg, rustgrad.distributed as dist\n"
            "dist.init_process_group('mpi')\n"
            "t = rg.ones(3); dist.all_reduce(t, op=dist.ReduceOp.AVG)\n"
            "print(dist.get_rank(), dist.get_world_size(), t.tolist())\n")
    p = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0 1 [1.0, 1.0, 1.0]"


def test_launcher_command_line():
    require_mpi()

    def cmd(*a):
        p = subprocess.run([sys.executable, "-m", "rustgrad.distributed.run", "--dry-run", *a], env=env(),
                           capture_output=True, text=True, timeout=60)
        return p

    p = cmd("--nproc-per-node", "3", "train.py", "--lr", "0.1")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert " -n 3 " in out and "--_bootstrap train.py --lr 0.1" in out and "oob_tcp_if_include lo" in out
    assert " -n 2 " in cmd("--nproc_per_node=2", "x.py").stdout
    assert "--_bootstrap -m pkg.train" in cmd("--nproc-per-node", "2", "-m", "pkg.train").stdout
    p = cmd("--nnodes", "2", "--nproc-per-node", "2", "x.py")
    assert p.returncode != 0 and "--hostfile" in p.stderr


def test_launcher_sets_torchrun_environment(tmp_path):
    require_mpi()
    script = tmp_path / "show.py"
    # Each rank writes its own file: mpirun may splice the ranks' stdout mid-line.
    script.write_text("import os, sys\n"
                      "line = ' '.join([os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'],\n"
                      "                 os.environ['LOCAL_WORLD_SIZE'], repr(sys.argv[1:])])\n"
                      f"open(os.path.join({str(tmp_path)!r}, 'env' + os.environ['RANK']), 'w').write(line)\n")
    e = env()
    e["RUSTGRAD_MPIRUN_ARGS"] = "--oversubscribe"
    p = subprocess.run([sys.executable, "-m", "rustgrad.distributed.run", "--nproc-per-node", "2", str(script),
                        "--flag", "1"], env=e, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    got = {f.name: f.read_text() for f in tmp_path.glob("env*")}
    assert got == {"env0": "0 2 0 2 ['--flag', '1']", "env1": "1 2 1 2 ['--flag', '1']"}, (got, p.stdout)


def _example(*args, n=None, timeout=300):
    ex = os.path.join(ROOT, "examples", "ddp.py")
    if n is None:
        cmd = [sys.executable, ex, *args]
    else:
        cmd = [sys.executable, "-m", "rustgrad.distributed.run", "--nproc-per-node", str(n), ex, *args]
    e = env()
    e["RUSTGRAD_MPIRUN_ARGS"] = "--oversubscribe"
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


def test_ddp_example_under_the_launcher_matches_one_process(tmp_path):
    require_mpi()
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        pytest.skip("Fashion-MNIST not installed")
    common = ["--limit", "256", "--test-limit", "200", "--no-shuffle", "--epochs", "1"]
    two = _example(*common, "--batch-size", "16", "--checkpoint", str(tmp_path / "ck.pt"), n=2)
    one = _example(*common, "--batch-size", "32")

    def num(out, key):
        return float(re.search(key + r" ([\d.]+)", out).group(1))

    assert "(2 ranks)" in two and "(1 ranks)" in one
    assert abs(num(two, "parameter checksum:") - num(one, "parameter checksum:")) < 1e-3
    assert abs(num(two, "train loss") - num(one, "train loss")) < 1e-5
    assert num(two, "final test accuracy:") == num(one, "final test accuracy:")
    state = rg.load(str(tmp_path / "ck.pt"))
    assert state["epoch"] == 1 and "conv1.weight" in state["model"]


def test_data_parallel_runs_the_module():
    m = nn.Linear(3, 2)
    dp = nn.DataParallel(m)
    x = rg.ones(4, 3)
    np.testing.assert_array_equal(dp(x).detach().numpy(), m(x).detach().numpy())
    assert dp.module is m and sorted(dp.state_dict()) == ["module.bias", "module.weight"]
    assert nn.parallel.DataParallel is nn.DataParallel
    assert nn.parallel.DDP is nn.parallel.DistributedDataParallel


def test_post_accumulate_grad_hook():
    w = rg.ones(3, requires_grad=True)
    seen = []
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0, 2.0, 2.0], [5.0, 5.0, 5.0]]  # called after .grad has been accumulated
    h.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        rg.ones(2).register_post_accumulate_grad_hook(lambda p: None)
