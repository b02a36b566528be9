#!/usr/bin/env bash
# The one prepared GPU benchmark for a machine with a real GPU (the reference is an NVIDIA H200
# with PyTorch CUDA installed); finishes in a few minutes and prints one markdown table:
#   matmul f32 256 / 1024 / 4096 (new kernels, tuned for the adapter first, and the legacy
#   kernel) in GFLOP/s; conv2d 3x3 forward + backward; elementwise add bandwidth next to the
#   device-to-device copy bandwidth measured the same way; the MNIST-CNN training step at batch
#   64 and 256 on rustgrad-wgpu, rustgrad-cpu and PyTorch-CUDA; the peak device memory of a
#   training step next to torch.cuda.max_memory_allocated. Every row states its ratio to PyTorch
#   CUDA (FP32, TF32 off, measured in the same run); without torch or CUDA those cells are "-".
#
#   bash benchmarks/gpu_bench.sh [--quick] [WHEEL_DIR]
#
# --quick: tiny sizes and short timings (checks the script end to end, e.g. on lavapipe).
# Set-up it does: the Vulkan loader (Debian's libvulkan1: from .deb files in .gl/ if present,
# else apt-get), then rustgrad from a prebuilt wheel in WHEEL_DIR (default dist/, .whl/ or
# target/wheels/), else an importable rustgrad as it is (PYTHONPATH), else `pip install .`.
# NVIDIA's Vulkan driver ships with its kernel driver; if the loader finds no ICD,
# VK_DRIVER_FILES is pointed at the usual nvidia_icd.json locations.
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
wheels=""
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        *) wheels="$arg" ;;
    esac
done
export QUICK

if ! ldconfig -p | grep -q libvulkan.so.1; then
    if ls .gl/*.deb >/dev/null 2>&1; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    else
        (apt-get update -qq && apt-get install -y -qq libvulkan1) >/dev/null 2>&1 || echo "# could not install libvulkan1"
    fi
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
        /etc/vulkan/icd.d/nvidia_icd.json; do
        [ -f "$icd" ] && export VK_DRIVER_FILES="$icd" && break
    done
fi

[ -z "$wheels" ] && for d in dist .whl target/wheels; do ls "$d"/rustgrad-*.whl >/dev/null 2>&1 && wheels="$d" && break; done
if [ -n "$wheels" ]; then
    python3 -m pip install -q --no-deps --no-index --target /tmp/rg-site "$wheels"/rustgrad-*.whl 2>/dev/null \
        || python3 -m pip install -q --no-deps --target /tmp/rg-site "$wheels"/rustgrad-*.whl
    export PYTHONPATH=/tmp/rg-site${PYTHONPATH:+:$PYTHONPATH}
elif ! python3 -c "import rustgrad" 2>/dev/null; then
    python3 -m pip install -q .
fi

exec python3 - <<'PY'
import os
import statistics
import time

import numpy as np
import rustgrad as rg

QUICK = os.environ.get("QUICK") == "1"
try:
    import torch
    HAS_CUDA = torch.cuda.is_available()
except Exception:  # noqa: BLE001
    torch, HAS_CUDA = None, False

if not rg.wgpu.is_available():
    raise SystemExit("rustgrad sees no wgpu adapter (is the Vulkan loader and driver present?)")
info = rg.wgpu.adapter_info()
print(f"# rustgrad adapter: {info.get('name')} ({info.get('backend')}, driver {info.get('driver')} "
      f"{info.get('driver_info')}){'  [--quick]' if QUICK else ''}")
if HAS_CUDA:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name()} (FP32, TF32 off)")
else:
    print("# no PyTorch CUDA: the torch columns are '-'")

MIN_TIME = 0.02 if QUICK else 0.2


def timeit(fn, sync, reps=5, min_time=MIN_TIME):
    fn(); sync()
    t0 = time.perf_counter(); fn(); sync()
    inner = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    out = []
    for _ in range(3 if QUICK else reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        out.append((time.perf_counter() - t0) / inner)
    return statistics.median(out)


def safe(fn):
    """fn() or None when it fails (a missing op or an out-of-memory must not end the table)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001
        print(f"# skipped: {type(e).__name__}: {str(e)[:160]}")
        return None


rg_sync = rg.wgpu.synchronize
th_sync = torch.cuda.synchronize if HAS_CUDA else None
rows = []


def row(name, unit, rgw, rgc=None, th=None, lower_is_better=None):
    """One table row; the ratio is rustgrad-wgpu relative to torch-cuda, >1 = rustgrad better."""
    if lower_is_better is None:
        lower_is_better = unit in ("ms", "MiB")
    ratio = "-"
    if th and rgw:
        ratio = f"{th / rgw:.2f}x" if lower_is_better else f"{rgw / th:.2f}x"
    cpu_ratio = "-"
    if rgc and rgw:
        cpu_ratio = f"{rgc / rgw:.2f}x" if lower_is_better else f"{rgw / rgc:.2f}x"
    cell = lambda v: "-" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.3g}")  # noqa: E731
    rows.append(f"| {name} | {unit} | {cell(rgw)} | {cell(rgc)} | {cell(th)} | {ratio} | {cpu_ratio} |")
    print("  " + rows[-1], flush=True)


rng = np.random.default_rng(0)

# Tune the GEMM tile choice for this adapter first (cached on disk for later runs).
t0 = time.perf_counter()
tuned = safe(lambda: rg.wgpu.tune_matmul(quick=QUICK))
if tuned:
    picks = ", ".join(f"{c}: {v['winner']}" for c, v in tuned["classes"].items())
    print(f"# matmul tuning ({time.perf_counter() - t0:.1f} s): {picks}; cache {tuned['path']}")

for n in ((64, 128, 256) if QUICK else (256, 1024, 4096)):
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    ga, gb = rg.tensor(a, device="wgpu"), rg.tensor(b, device="wgpu")
    fl = 2 * n**3 / 1e9
    t_rg = timeit(lambda: ga @ gb, rg_sync)
    prev = rg.wgpu.matmul_variant("legacy")
    t_old = timeit(lambda: ga @ gb, rg_sync)
    rg.wgpu.matmul_variant(prev)
    t_th = None
    if HAS_CUDA:
        ta, tb = torch.tensor(a, device="cuda"), torch.tensor(b, device="cuda")
        t_th = timeit(lambda: ta @ tb, th_sync)
    # Correctness spot check of the timed product against float64 NumPy.
    got = (ga @ gb).cpu().numpy()
    err = float(np.abs(got - a.astype(np.float64) @ b).max() / (np.abs(a).sum(1).max() * np.abs(b).max()))
    tile = rg.wgpu.matmul_tile(n, n)
    row(f"matmul {n} f32 ({tile})", "GFLOP/s", fl / t_rg, None, fl / t_th if t_th else None)
    row(f"matmul {n} f32 legacy kernel", "GFLOP/s", fl / t_old, None, fl / t_th if t_th else None)
    print(f"#   matmul {n}: relative error {err:.1e}; new/legacy {t_old / t_rg:.2f}x")

cb, cc, chw = (4, 16, 16) if QUICK else (64, 64, 56)


def conv_fwd_bwd(lib, device, sync):
    x = lib.tensor(rng.standard_normal((cb, cc, chw, chw)).astype(np.float32), device=device, requires_grad=True)
    w = lib.tensor(rng.standard_normal((cc, cc, 3, 3)).astype(np.float32) * 0.05, device=device, requires_grad=True)
    b = lib.tensor(np.zeros(cc, np.float32), device=device, requires_grad=True)

    def step():
        x.grad = w.grad = b.grad = None
        lib.nn.functional.conv2d(x, w, b, padding=1).sum().backward()

    return timeit(step, sync, reps=3)


conv_fl = 3 * 2 * cb * cc * cc * 9 * chw * chw / 1e9
t_rgw = safe(lambda: conv_fwd_bwd(rg, "wgpu", rg_sync))
t_rgc = safe(lambda: conv_fwd_bwd(rg, "cpu", lambda: None))
t_th = safe(lambda: conv_fwd_bwd(torch, "cuda", th_sync)) if HAS_CUDA else None
ms = lambda t: t * 1e3 if t else None  # noqa: E731
row(f"conv2d 3x3 {cb}x{cc}x{chw}x{chw}->{cc} fwd+bwd", "ms", ms(t_rgw), ms(t_rgc), ms(t_th))
if t_rgw:
    print(f"#   conv2d fwd+bwd: {conv_fl / t_rgw:.0f} GFLOP/s on rustgrad-wgpu")

n = 1 << (16 if QUICK else 24)
x = rg.randn(n, device="wgpu"); y = rg.randn(n, device="wgpu")
t_add = timeit(lambda: x + y, rg_sync)
t_copy = timeit(lambda: x.clone(), rg_sync)
th_add = th_copy = None
if HAS_CUDA:
    tx, ty = torch.randn(n, device="cuda"), torch.randn(n, device="cuda")
    th_add, th_copy = timeit(lambda: tx + ty, th_sync), timeit(lambda: tx.clone(), th_sync)
gbs = lambda bytes_, t: bytes_ / t / 1e9 if t else None  # noqa: E731
mib = 4 * n / 2**20
row(f"add {n} f32 (3 x {mib:g} MiB)", "GB/s", gbs(12 * n, t_add), None, gbs(12 * n, th_add))
row(f"copy {n} f32 (2 x {mib:g} MiB)", "GB/s", gbs(8 * n, t_copy), None, gbs(8 * n, th_copy))
print(f"#   elementwise add reaches {12 * n / t_add / (8 * n / t_copy):.0%} of the copy bandwidth on rustgrad-wgpu"
      + (f" ({12 * n / th_add / (8 * n / th_copy):.0%} on torch-cuda)" if HAS_CUDA else ""))


def cnn_step(lib, device, batch):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            return F.log_softmax(self.fc2(F.relu(self.fc1(x.flatten(1)))), dim=1)

    model = Net().to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xb = lib.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)).to(device)
    yb = lib.tensor(rng.integers(0, 10, batch)).to(device)

    def step():
        opt.zero_grad()
        F.nll_loss(model(xb), yb).backward()
        opt.step()

    return step


def peak_rg(batch):
    step = cnn_step(rg, "wgpu", batch)
    step(); rg_sync()
    rg.wgpu.empty_cache()
    rg.wgpu.reset_peak_memory_stats()
    base = rg.wgpu.memory_allocated()
    step(); rg_sync()
    return rg.wgpu.max_memory_allocated() / 2**20, base / 2**20


def peak_th(batch):
    step = cnn_step(torch, "cuda", batch)
    step(); th_sync()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step(); th_sync()
    return torch.cuda.max_memory_allocated() / 2**20, base / 2**20


for batch in ((8, 16) if QUICK else (64, 256)):
    t_rgw = safe(lambda: timeit(cnn_step(rg, "wgpu", batch), rg_sync, reps=3))
    t_rgc = safe(lambda: timeit(cnn_step(rg, "cpu", batch), lambda: None, reps=3, min_time=MIN_TIME * 2))
    t_th = safe(lambda: timeit(cnn_step(torch, "cuda", batch), th_sync, reps=3)) if HAS_CUDA else None
    row(f"CNN train step b{batch}", "ms", ms(t_rgw), ms(t_rgc), ms(t_th))

for batch in ((16,) if QUICK else (64, 256)):
    p_rg = safe(lambda: peak_rg(batch))
    p_th = safe(lambda: peak_th(batch)) if HAS_CUDA else None
    row(f"CNN train step b{batch} peak device memory", "MiB", p_rg and p_rg[0], None, p_th and p_th[0])
    if p_rg:
        print(f"#   resident before the step (parameters, optimizer state, batch): rustgrad {p_rg[1]:.1f} MiB"
              + (f", torch {p_th[1]:.1f} MiB" if p_th else ""))

print()
print("| workload | unit | rustgrad-wgpu | rustgrad-cpu | torch-cuda | wgpu vs torch | wgpu vs cpu |")
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))
print("(ratios: >1 means rustgrad-wgpu is better: time and memory rows other / wgpu, rate rows wgpu / other)")
PY
