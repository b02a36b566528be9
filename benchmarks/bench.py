"""Side-by-side benchmark: rustgrad vs PyTorch vs NumPy on the same workloads.

Each workload is timed in every library that is installed and supports it; the table shows the
median of several runs plus the ratio to rustgrad (>1 means rustgrad is faster). Threads are
pinned to the same count in every library (default 2) so the comparison is fair.

    python benchmarks/bench.py                 # everything
    python benchmarks/bench.py --quick         # fewer repeats, skips the largest sizes
    python benchmarks/bench.py --only add,sum  # workloads whose name contains any of these
    python benchmarks/bench.py --json out.json # also write the raw numbers
    python benchmarks/bench.py --device wgpu   # rustgrad on its GPU, PyTorch on CUDA beside it

With --device wgpu every timed call ends with a device synchronize (rustgrad.wgpu.synchronize,
torch.cuda.synchronize), so the numbers are completed work, not queued work. NumPy has no GPU
column; PyTorch runs only where CUDA is available.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

LIBS = ("rustgrad", "torch", "numpy")


def _import(name):
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None


# Where each library runs (None: the CPU) and how to wait for its queued device work.
DEVICE = {"rustgrad": None, "torch": None}
SYNC = {}


def _sync(name):
    f = SYNC.get(name)
    if f is not None:
        f()


def _place(name, obj):
    """`obj` (a tensor or module) moved to the library's benchmark device."""
    dev = DEVICE.get(name)
    return obj if dev is None or name == "numpy" else obj.to(dev)


class Skip(Exception):
    """The library lacks a piece this workload needs; the cell is left blank."""


def _need(ok, what):
    if not ok:
        raise Skip(what)


def measure(fn, repeat, min_time, sync=lambda: None):
    """Median seconds per call of `fn` over `repeat` samples, each at least `min_time` long
    (`sync` waits for device work at the end of each sample)."""
    fn()  # warm up (allocator caches, lazy init, first-call dispatch)
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - t0, 1e-9)
    inner = max(1, int(min_time / once))
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


# ---------------------------------------------------------------------------------------------
# Workloads. Each factory takes (lib_name, module, np) and returns a zero-arg callable to time,
# or raises Skip. `unit` says how the seconds are shown.
# ---------------------------------------------------------------------------------------------


def _rand(np, shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _tensor(name, mod, arr, requires_grad=False):
    if name == "numpy":
        return arr
    t = _place(name, mod.from_numpy(arr.copy()))
    if requires_grad:
        t.requires_grad_(True)
    return t


def w_add_1elem(name, mod, np):
    a = _tensor(name, mod, np.ones(1, dtype=np.float32))
    b = _tensor(name, mod, np.ones(1, dtype=np.float32))
    return lambda: a + b


def w_chain100(name, mod, np):
    _need(name != "numpy", "no autograd")
    x = _tensor(name, mod, _rand(np, (16,)), requires_grad=True)
    c = _tensor(name, mod, np.full(16, 0.5, dtype=np.float32))

    def run():
        y = x
        for i in range(100):
            k = i % 3
            y = y + c if k == 0 else (y * c if k == 1 else y.tanh())
        y.sum().backward()
        x.grad = None

    return run


_UNARY_NP = {
    "exp": lambda np, a: np.exp(a),
    "tanh": lambda np, a: np.tanh(a),
    "sigmoid": lambda np, a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda np, a: np.maximum(a, 0),
}


def w_elementwise(op, n):
    def make(name, mod, np):
        a = _tensor(name, mod, _rand(np, (n,), 1))
        b = _tensor(name, mod, _rand(np, (n,), 2))
        if op == "add":
            return lambda: a + b
        if op == "mul":
            return lambda: a * b
        if name == "numpy":
            f = _UNARY_NP[op]
            return lambda: f(np, a)
        _need(hasattr(mod, op), f"{name}.{op}")
        f = getattr(mod, op)
        return lambda: f(a)

    return make


def w_out(expr, n):
    """``out=`` into a preallocated tensor: ``add`` (a + b) or ``fma`` (a * b + 1, the product a
    temporary, the add written into out)."""
    def make(name, mod, np):
        a = _tensor(name, mod, _rand(np, (n,), 1))
        b = _tensor(name, mod, _rand(np, (n,), 2))
        o = _tensor(name, mod, np.zeros(n, dtype=np.float32))
        if expr == "add":
            return lambda: mod.add(a, b, out=o)
        return lambda: mod.add(a * b, 1, out=o)

    return make


def w_sum(n):
    def make(name, mod, np):
        a = _tensor(name, mod, _rand(np, (n,)))
        return (lambda: a.sum()) if name == "numpy" else (lambda: mod.sum(a))

    return make


def w_softmax(name, mod, np):
    a = _tensor(name, mod, _rand(np, (256, 1024)))
    if name == "numpy":

        def run():
            e = np.exp(a - a.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)

        return run
    _need(hasattr(mod, "softmax"), f"{name}.softmax")
    return lambda: mod.softmax(a, dim=1)


def w_softmax_big(name, mod, np):
    """softmax(dim=-1) over [4096, 1024]: bandwidth counts one read and one write."""
    a = _tensor(name, mod, _rand(np, (4096, 1024)))
    if name == "numpy":

        def run():
            e = np.exp(a - a.max(axis=-1, keepdims=True))
            e /= e.sum(axis=-1, keepdims=True)
            return e

        return run
    return lambda: mod.softmax(a, dim=-1)


def w_conv_fwd_bwd(name, mod, np):
    """conv2d 3x3 (padding 1) of [64, 32, 28, 28] to 64 channels, forward then backward to the
    input and the weight."""
    _need(name != "numpy", "no conv2d")
    F = mod.nn.functional
    x = _tensor(name, mod, _rand(np, (64, 32, 28, 28), 1), requires_grad=True)
    w = _tensor(name, mod, _rand(np, (64, 32, 3, 3), 2) * 0.1, requires_grad=True)
    g = _tensor(name, mod, _rand(np, (64, 64, 28, 28), 3))

    def run():
        F.conv2d(x, w, padding=1).backward(g)
        x.grad = None
        w.grad = None

    return run


def _np_mlp_adam(np, sizes, seed=0):
    """A NumPy MLP (Linear-ReLU-Linear, cross-entropy) trained by hand-written backprop and Adam:
    the floor a framework's per-step overhead is measured against."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    state = {"t": 0}

    def step(x, y, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, adam=True):
        w1, b1_, w2, b2_ = params
        h = x @ w1 + b1_
        r = np.maximum(h, 0)
        z = r @ w2 + b2_
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        dz = p / len(y)
        dh = (dz @ w2.T) * (h > 0)
        grads = [x.T @ dh, dh.sum(0), r.T @ dz, dz.sum(0)]
        if not adam:
            for prm, gr in zip(params, grads):
                prm -= lr * gr
            return
        state["t"] += 1
        t = state["t"]
        c1, c2 = 1 - b1**t, 1 - b2**t
        for prm, gr, mm, vv in zip(params, grads, m, v):
            mm *= b1
            mm += (1 - b1) * gr
            vv *= b2
            vv += (1 - b2) * gr * gr
            prm -= (lr / c1) * mm / (np.sqrt(vv / c2) + eps)

    return step


def w_mlp256(name, mod, np):
    """One SGD step of the 784-128-10 MLP at batch 256 (NumPy: hand-written backprop)."""
    x_np = _rand(np, (256, 784))
    y_np = np.random.default_rng(3).integers(0, 10, 256).astype(np.int64)
    if name == "numpy":
        step = _np_mlp_adam(np, (784, 128, 10))
        return lambda: step(x_np, y_np, lr=0.01, adam=False)
    nn, F, optim = _nn_parts(name, mod)
    mod.manual_seed(0)
    model = _place(name, nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)))
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = _tensor(name, mod, x_np)
    y = _place(name, mod.from_numpy(y_np))

    def run():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    return run


def w_digits(name, mod, np):
    """20 epochs of a 64-128-10 MLP with Adam at batch 32 over 1797 digit-sized samples (the
    sklearn digits shape; synthetic data, so no download): small-model overhead end to end."""
    rng = np.random.default_rng(5)
    x_np = rng.uniform(0, 16, (1797, 64)).astype(np.float32) / 16
    y_np = rng.integers(0, 10, 1797).astype(np.int64)
    batches = [(x_np[i:i + 32], y_np[i:i + 32]) for i in range(0, 1797, 32)]
    if name == "numpy":

        def run_np():
            step = _np_mlp_adam(np, (64, 128, 10))
            for _ in range(20):
                for xb, yb in batches:
                    step(xb, yb)

        return run_np
    nn, F, optim = _nn_parts(name, mod)
    tb = [(_tensor(name, mod, xb), _place(name, mod.from_numpy(yb.copy()))) for xb, yb in batches]

    def run():
        mod.manual_seed(0)
        model = _place(name, nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
        opt = optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(20):
            for xb, yb in tb:
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()

    return run


def w_matmul(n):
    def make(name, mod, np):
        a = _tensor(name, mod, _rand(np, (n, n), 1))
        b = _tensor(name, mod, _rand(np, (n, n), 2))
        if name == "numpy":
            return lambda: a @ b
        _need(hasattr(mod, "matmul"), f"{name}.matmul")
        return lambda: mod.matmul(a, b)

    return make


def w_matmul_legacy(n):
    """rustgrad-wgpu only: the first (64x64, scalar-load) matmul kernel, beside the matmul row."""
    def make(name, mod, np):
        _need(name == "rustgrad" and DEVICE.get("rustgrad") == "wgpu", "rustgrad-wgpu only")
        a = _tensor(name, mod, _rand(np, (n, n), 1))
        b = _tensor(name, mod, _rand(np, (n, n), 2))

        def run():
            prev = mod.wgpu.matmul_variant("legacy")
            try:
                return a @ b
            finally:
                mod.wgpu.matmul_variant(prev)

        return run

    return make


def w_conv_small(name, mod, np):
    """conv2d 3x3 8x16x16x16 -> 16 forward + backward (input and weight gradients)."""
    _need(name != "numpy", "no conv")
    F = mod.nn.functional
    x = _tensor(name, mod, _rand(np, (8, 16, 16, 16), 1), requires_grad=True)
    w = _tensor(name, mod, _rand(np, (16, 16, 3, 3), 2), requires_grad=True)

    def run():
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).sum().backward()

    return run


def _nn_parts(name, mod):
    _need(name != "numpy", "no autograd")
    nn = getattr(mod, "nn", None)
    F = getattr(nn, "functional", None) if nn is not None else None
    optim = getattr(mod, "optim", None)
    _need(nn is not None and F is not None and optim is not None, f"{name}.nn/optim")
    for part in ("Linear", "Conv2d", "Dropout", "Module"):
        _need(hasattr(nn, part), f"{name}.nn.{part}")
    for part in ("relu", "max_pool2d", "log_softmax", "nll_loss"):
        _need(hasattr(F, part), f"{name}.nn.functional.{part}")
    _need(hasattr(optim, "SGD"), f"{name}.optim.SGD")
    return nn, F, optim


def _train_step(mod, model, opt, F, x, y):
    def run():
        opt.zero_grad()
        loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
        loss.backward()
        opt.step()

    return run


def w_mlp(name, mod, np):
    nn, F, optim = _nn_parts(name, mod)
    if hasattr(mod, "manual_seed"):
        mod.manual_seed(0)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    model = _place(name, MLP())
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = _tensor(name, mod, _rand(np, (64, 784)))
    y = _place(name, mod.from_numpy(np.random.default_rng(3).integers(0, 10, 64).astype(np.int64)))
    return _train_step(mod, model, opt, F, x, y)


def w_cnn(name, mod, np):
    nn, F, optim = _nn_parts(name, mod)
    if hasattr(mod, "manual_seed"):
        mod.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout = nn.Dropout(0.25)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout(F.max_pool2d(x, 2))
            x = x.flatten(1) if hasattr(x, "flatten") else x.reshape(x.shape[0], -1)
            return self.fc2(F.relu(self.fc1(x)))

    model = _place(name, Net())
    model.train()
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = _tensor(name, mod, _rand(np, (64, 1, 28, 28)))
    y = _place(name, mod.from_numpy(np.random.default_rng(3).integers(0, 10, 64).astype(np.int64)))
    return _train_step(mod, model, opt, F, x, y)


def workloads(quick):
    """(name, factory, unit, flops-or-None, big) in table order."""
    out = [
        ("add 1-elem", w_add_1elem, "us", None, False),
        ("chain100 fwd+bwd [16]", w_chain100, "us", None, False),
    ]
    for n, label in ((1 << 20, "1M"), (1 << 24, "16M")):
        for op in ("add", "mul", "exp", "tanh", "sigmoid", "relu"):
            out.append((f"{op} {label} f32", w_elementwise(op, n), "ms", None, n > 1 << 20))
    # Bandwidth of the out= rows counts the logical traffic: two inputs read, one output written.
    out.append(("add 1M f32 out=", w_out("add", 1 << 20), "GB/s", 12.0 * (1 << 20), False))
    out.append(("a*b+1 1M f32 out=", w_out("fma", 1 << 20), "GB/s", 12.0 * (1 << 20), False))
    out.append(("sum 1M f32", w_sum(1 << 20), "ms", None, False))
    out.append(("sum 16M f32", w_sum(1 << 24), "ms", None, True))
    out.append(("softmax [256,1024]", w_softmax, "ms", None, False))
    out.append(("softmax [4096,1024] dim=-1", w_softmax_big, "GB/s", 8.0 * 4096 * 1024, False))
    for n in (256, 1024, 2048):
        out.append((f"matmul {n} f32", w_matmul(n), "GFLOP/s", 2.0 * n**3, n >= 2048))
    out.append(("matmul 256 f32 legacy wgpu kernel", w_matmul_legacy(256), "GFLOP/s", 2.0 * 256**3, False))
    out.append(("conv2d 3x3 8x16x16x16->16 fwd+bwd", w_conv_small, "ms", None, False))
    out.append(("conv2d 3x3 64x32x28x28->64 fwd+bwd", w_conv_fwd_bwd, "ms", None, False))
    out.append(("MLP step 784-128-10 b64", w_mlp, "ms", None, False))
    out.append(("MLP step 784-128-10 b256", w_mlp256, "ms", None, False))
    out.append(("digits MLP 64-128-10 Adam 20 ep b32", w_digits, "ms", None, False))
    out.append(("CNN step b64", w_cnn, "ms", None, True))
    if quick:
        out = [w for w in out if not w[4]]
    return out


def fmt(sec, unit, flops):
    if sec is None:
        return "-"
    if unit in ("GFLOP/s", "GB/s"):  # (flops holds the bytes moved for GB/s rows)
        return f"{flops / sec / 1e9:.1f}"
    scale = {"us": 1e6, "ms": 1e3}[unit]
    v = sec * scale
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats, skip the largest sizes")
    p.add_argument("--only", default="", help="comma-separated substrings of workload names")
    p.add_argument("--libs", default=",".join(LIBS), help="comma-separated libraries to run")
    p.add_argument("--threads", type=int, default=2, help="threads for every library")
    p.add_argument("--repeat", type=int, default=None, help="samples per cell (median taken)")
    p.add_argument("--json", metavar="FILE", help="also write raw seconds per call as JSON")
    p.add_argument("--device", default="cpu", choices=["cpu", "wgpu"],
                   help="wgpu: rustgrad on its GPU device, PyTorch on CUDA (when available)")
    args = p.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    np = _import("numpy")
    if np is None:
        sys.exit("numpy is required")
    mods = {}
    for name in args.libs.split(","):
        m = _import(name.strip())
        if m is None:
            continue
        if hasattr(m, "set_num_threads"):
            m.set_num_threads(args.threads)
        mods[name.strip()] = m
    if args.device == "wgpu":
        mods.pop("numpy", None)
        rg = mods.get("rustgrad")
        if rg is None or not rg.wgpu.is_available():
            sys.exit("--device wgpu: rustgrad has no wgpu adapter here")
        DEVICE["rustgrad"], SYNC["rustgrad"] = "wgpu", rg.wgpu.synchronize
        th = mods.get("torch")
        if th is not None and th.cuda.is_available():
            DEVICE["torch"], SYNC["torch"] = "cuda", th.cuda.synchronize
        else:
            mods.pop("torch", None)
    repeat = args.repeat or (3 if args.quick else 7)
    min_time = 0.02 if args.quick else 0.1
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]

    cols = [n for n in LIBS if n in mods]
    results = {}
    rows = []
    for wname, factory, unit, flops, _big in workloads(args.quick):
        if only and not any(s in wname.lower() for s in only):
            continue
        cell = {}
        for lib in cols:
            try:
                fn = factory(lib, mods[lib], np)
                cell[lib] = measure(fn, repeat, min_time, lambda lib=lib: _sync(lib))
            except Skip:
                cell[lib] = None
            except Exception as e:  # noqa: BLE001 - report and keep going
                print(f"# {wname} [{lib}] failed: {type(e).__name__}: {e}", file=sys.stderr)
                cell[lib] = None
        results[wname] = {"unit": unit, "seconds": cell}
        rows.append((wname, unit, flops, cell))
        print(f"# done {wname}", file=sys.stderr, flush=True)

    others = [c for c in cols if c != "rustgrad"]
    head = ["workload", "unit"] + cols + [f"{o}/rustgrad" for o in others if "rustgrad" in cols]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for wname, unit, flops, cell in rows:
        line = [wname, unit] + [fmt(cell.get(c), unit, flops) for c in cols]
        if "rustgrad" in cols:
            r = cell.get("rustgrad")
            for o in others:
                t = cell.get(o)
                # Ratio of times: >1 means rustgrad is faster, whatever the displayed unit.
                line.append(f"{t / r:.2f}x" if r and t else "-")
        print("| " + " | ".join(line) + " |")
    print(
        f"\nthreads={args.threads}, device={args.device}, median of {repeat} samples; ratio = other "
        "time / rustgrad time (>1: rustgrad faster)."
    )
    if args.device == "wgpu":
        print(f"adapter: {mods['rustgrad'].wgpu.get_device_name()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "repeat": repeat, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
