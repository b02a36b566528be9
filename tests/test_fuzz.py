"""Property-based fuzzing of rustgrad against PyTorch (or NumPy where PyTorch is missing).

Each batch runs one op family (unary, binary, reduce, matmul, movement, indexing, inplace,
creation; the op table is in ``fuzz_ops.py``) for a fixed seed in a child process, so a segfault,
abort or hang fails that batch and names the op and the case that was running instead of killing
the test run. Every generated case runs through rustgrad and through the reference; the only
acceptable outcomes are equal results (values within dtype tolerance, same shape and dtype) or
both raising the same exception type (PyTorch's subclasses count as their Python base). rustgrad
succeeding where PyTorch raises, a different exception type, a panic or a crash is a failure.
Failures matching an entry of ``fuzz_ops.KNOWN`` (defects whose fix belongs in Rust, each pinned
by a strict xfail in ``test_bad_inputs.py``) are counted, printed, and not failed.

Profiles (environment variables):

``RUSTGRAD_FUZZ=ci`` (default)
    one seed per family, 25 examples per op: the whole file takes well under 90 s on 2 cores.
``RUSTGRAD_FUZZ=long``
    on demand: 4 seeds per family, 300 examples per op (tens of minutes).

Overrides: ``RUSTGRAD_FUZZ_SEEDS`` (count, or comma-separated list), ``RUSTGRAD_FUZZ_EXAMPLES``
(per op), ``RUSTGRAD_FUZZ_OPS`` (regex on op names), ``RUSTGRAD_FUZZ_TIMEOUT`` (seconds per
child), ``RUSTGRAD_FUZZ_JOBS`` (parallel children, default: CPU count), ``RUSTGRAD_FUZZ_MEM_GB``
(address-space cap of a child, default 12), ``RUSTGRAD_FUZZ_REF=numpy`` (use the NumPy
reference even where PyTorch is installed).

A reported case is the exact code that ran; reproduce it with
``python tests/fuzz_ops.py repro "<code>"``. Seeds are explicit, so a batch is deterministic.
"""

import concurrent.futures
import json
import os
import signal
import subprocess
import sys

import pytest

pytest.importorskip("hypothesis")

import fuzz_ops  # noqa: E402  (after the hypothesis check: the op table is built from strategies)

HERE = os.path.dirname(os.path.abspath(__file__))
FUZZ_OPS = os.path.join(HERE, "fuzz_ops.py")

PROFILE = os.environ.get("RUSTGRAD_FUZZ", "ci").lower()
if PROFILE not in ("ci", "long"):
    raise ValueError(f"RUSTGRAD_FUZZ must be 'ci' or 'long', not {PROFILE!r}")
_DEFAULTS = {"ci": dict(seeds=1, examples=25, timeout=300), "long": dict(seeds=4, examples=300, timeout=3600)}[PROFILE]


def _seeds():
    raw = os.environ.get("RUSTGRAD_FUZZ_SEEDS")
    if not raw:
        return list(range(_DEFAULTS["seeds"]))
    if "," in raw:
        return [int(s) for s in raw.split(",") if s.strip()]
    return list(range(int(raw)))


SEEDS = _seeds()
EXAMPLES = int(os.environ.get("RUSTGRAD_FUZZ_EXAMPLES", _DEFAULTS["examples"]))
TIMEOUT = float(os.environ.get("RUSTGRAD_FUZZ_TIMEOUT", _DEFAULTS["timeout"]))
OPS_FILTER = os.environ.get("RUSTGRAD_FUZZ_OPS")
REF = "numpy" if os.environ.get("RUSTGRAD_FUZZ_REF", "").lower() == "numpy" else "auto"
JOBS = int(os.environ.get("RUSTGRAD_FUZZ_JOBS", os.cpu_count() or 2))

BATCHES = [(f, s) for s in SEEDS for f in fuzz_ops.FAMILIES]
NUMPY_BATCH = ("all", 0)  # the no-PyTorch path, checked even where PyTorch is installed
SELFTEST_BATCH = ("selftest", 0)


# ------------------------------------------------------------------ running a batch in children


def _parse(line):
    if not line.startswith(fuzz_ops.PREFIX + " "):
        return None, None
    kind, _, payload = line[len(fuzz_ops.PREFIX) + 1:].partition(" ")
    try:
        return kind, json.loads(payload)
    except ValueError:
        return None, None


def run_batch(family, seed, examples=EXAMPLES, ref=REF, ops=OPS_FILTER, block_torch=False, timeout=TIMEOUT):
    """Run one batch in child processes, restarting after a crash so later ops still run.

    Returns a dict: failures (list of records), crashes (list of records), done (op -> stats),
    skipped (op -> why)."""
    out = {"failures": [], "crashes": [], "done": {}, "skipped": {}}
    skip = []
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONFAULTHANDLER="1")
    if block_torch:
        env["RUSTGRAD_FUZZ_BLOCK_TORCH"] = "1"
    for _attempt in range(8):
        cmd = [sys.executable, FUZZ_OPS, "run", "--family", family, "--seed", str(seed), "--examples",
               str(examples), "--ref", ref]
        if ops:
            cmd += ["--ops", ops]
        if skip:
            cmd += ["--skip", ",".join(skip)]
        proc = subprocess.Popen(cmd, cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
            hung = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            hung = True
        last, ended = None, False
        for line in stdout.splitlines():
            kind, rec = _parse(line)
            if kind == "CASE":
                last = rec
            elif kind == "FAIL":
                out["failures"].append(rec)
            elif kind == "DONE":
                out["done"][rec["op"]] = rec
                last = None
            elif kind == "SKIP":
                out["skipped"][rec["op"]] = rec["why"]
            elif kind == "END":
                ended = True
        if ended and proc.returncode == 0:
            return out
        why = (f"hung (killed after {timeout:.0f} s)" if hung else
               f"died with signal {-proc.returncode}" if proc.returncode < 0 else f"exited with status {proc.returncode}")
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        if last is None:  # died outside a case (import error, harness bug): nothing to skip past
            out["crashes"].append({"op": "?", "code": "?", "why": why, "stderr": tail})
            return out
        out["crashes"].append({"op": last["op"], "code": last["code"], "why": why, "stderr": tail})
        skip.append(last["op"])
    return out


def _describe(res):
    lines = []
    for c in res["crashes"]:
        lines.append(f"CRASH in op {c['op']}: child {c['why']} while running:\n{_indent(c['code'])}")
        if c.get("stderr"):
            lines.append("  stderr tail:\n" + _indent(c["stderr"], 4))
        if c["code"] != "?":
            lines.append(f"  reproduce: python tests/fuzz_ops.py repro {json.dumps(c['code'])}")
    for f in res["failures"]:
        lines.append(f"FAIL in op {f['op']}: {f['msg']}\n{_indent(f['code'])}\n"
                     f"  rustgrad: {f['rustgrad']}\n  reference: {f['reference']}\n"
                     f"  reproduce: python tests/fuzz_ops.py repro {json.dumps(f['code'])}")
    return "\n".join(lines)


def _indent(text, n=4):
    return "\n".join(" " * n + line for line in str(text).splitlines())


def _known_summary(res):
    counts = {}
    for stats in res["done"].values():
        for k, v in stats.get("known", {}).items():
            counts[k] = counts.get(k, 0) + v
    return counts


# ------------------------------------------------------------------ the batches, run in parallel


@pytest.fixture(scope="module")
def fuzz_pool(request):
    """Start every selected batch at once (JOBS children at a time); tests then wait on theirs."""
    wanted = []
    for item in request.session.items:
        cs = getattr(item, "callspec", None)
        if cs is not None and item.module is request.module and "batch" in cs.params:
            wanted.append(cs.params["batch"])
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(JOBS, 1))
    futures = {}

    def submit(batch):
        if batch not in futures:
            family, seed = batch
            if batch == NUMPY_BATCH:
                futures[batch] = pool.submit(run_batch, "all", seed, examples=max(EXAMPLES // 3, 5), ref="numpy",
                                             block_torch=True)
            elif batch == SELFTEST_BATCH:
                futures[batch] = pool.submit(run_batch, "selftest", seed, examples=3)
            else:
                futures[batch] = pool.submit(run_batch, family, seed)
        return futures[batch]

    # slowest first, so the tail of the run is short
    for b in sorted(set(wanted), key=lambda b: b[0] not in ("binary", "unary", "indexing", "movement")):
        submit(b)
    yield submit
    pool.shutdown(wait=True)


def _check(res, what):
    known = _known_summary(res)
    ran = sum(s.get("ran", 0) for s in res["done"].values())
    if known:
        print(f"{what}: known defects hit (fuzz_ops.KNOWN): " + ", ".join(f"{k} x{v}" for k, v in sorted(known.items())))
    print(f"{what}: {len(res['done'])} ops, {ran} cases compared")
    if res["crashes"] or res["failures"]:
        pytest.fail(f"{what}: {len(res['crashes'])} crash(es), {len(res['failures'])} failure(s)\n" + _describe(res),
                    pytrace=False)
    return ran


@pytest.mark.parametrize("batch", BATCHES, ids=[f"{f}-seed{s}" for f, s in BATCHES])
def test_fuzz(batch, fuzz_pool):
    family, seed = batch
    res = fuzz_pool(batch).result()
    ran = _check(res, f"{family} (seed {seed})")
    if ran == 0 and res["skipped"]:
        pytest.skip(f"{family}: PyTorch is not installed and no op of this family has a NumPy reference")
    if not res["done"] and not res["crashes"]:
        pytest.skip(f"no op of family {family} matched RUSTGRAD_FUZZ_OPS")


@pytest.mark.parametrize("batch", [NUMPY_BATCH], ids=["numpy-reference-without-torch"])
def test_fuzz_numpy_reference(batch, fuzz_pool):
    """The no-PyTorch path: torch imports are blocked in the child; ops with a NumPy reference
    are checked against it and the others are skipped, never failed."""
    res = fuzz_pool(batch).result()
    ran = _check(res, "NumPy reference")
    assert ran > 0, "no case ran against NumPy"
    assert res["skipped"], "ops without a NumPy reference should be skipped"


@pytest.mark.parametrize("batch", [SELFTEST_BATCH], ids=["crash-isolation"])
def test_fuzz_reports_crashes(batch, fuzz_pool):
    """A case that segfaults the child is reported with its op and code, and the batch goes on
    with the next op (fuzz_ops' 'selftest' family: a crashing op, then a silently accepting one)."""
    res = fuzz_pool(batch).result()
    assert [c["op"] for c in res["crashes"]] == ["selftest_segfault"], res
    crash = res["crashes"][0]
    assert "signal" in crash["why"] and "string_at" in crash["code"]
    assert [f["op"] for f in res["failures"]] == ["selftest_silent_acceptance"], res
    assert res["failures"][0]["msg"].startswith("silent acceptance")
    assert "selftest_ok" in res["done"]


# ------------------------------------------------------------------ the judge itself (in process)


class _FakePanic(BaseException):
    pass


_FakePanic.__name__ = "PanicException"


def test_exception_kinds():
    class TorchSpecific(RuntimeError):  # like torch.OutOfMemoryError
        pass

    assert fuzz_ops.exc_kind(TorchSpecific("x")) == "RuntimeError"
    assert fuzz_ops.exc_kind(NotImplementedError("x")) == "NotImplementedError"
    assert fuzz_ops.exc_kind(ZeroDivisionError("x")) == "ZeroDivisionError"
    assert fuzz_ops.exc_kind(_FakePanic("x")) == "PanicException"


def test_judge_outcomes():
    op = fuzz_ops.Op("t", "x", None)
    case = fuzz_ops.Case("out = 1")
    t = ("ok", ("T", "float32", (2,), __import__("numpy").zeros(2, "float32")))
    t64 = ("ok", ("T", "float64", (2,), __import__("numpy").zeros(2)))
    err_rt = ("err", "RuntimeError", "RuntimeError: bad")
    err_ix = ("err", "IndexError", "IndexError: bad")
    assert fuzz_ops.judge(op, case, t, t, "torch") is None
    assert fuzz_ops.judge(op, case, err_rt, err_rt, "torch") is None
    assert "silent acceptance" in fuzz_ops.judge(op, case, t, err_rt, "torch")
    assert "exception type" in fuzz_ops.judge(op, case, err_ix, err_rt, "torch")
    assert "dtype" in fuzz_ops.judge(op, case, t, t64, "torch")
    assert "rustgrad raised" in fuzz_ops.judge(op, case, err_rt, t, "torch")
    # NumPy's errors are not PyTorch's: only a rustgrad crash-like exception counts there.
    assert fuzz_ops.judge(op, case, t, err_rt, "numpy") is None
    assert "not a PyTorch exception type" in fuzz_ops.judge(op, case, ("err", "KeyError", "KeyError: 1"), t, "numpy")
