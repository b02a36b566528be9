#!/usr/bin/env bash
# One prepared GPU benchmark for a machine with a real GPU (the reference is an NVIDIA H200 with
# PyTorch CUDA installed). Finishes in a few minutes and prints one table:
#   matmul 1024/4096 f32 GFLOP/s, elementwise bandwidth (add, 16M f32) next to the
#   device-to-device copy bandwidth measured the same way, and the CNN training step (batch 64)
#   on rustgrad-wgpu, rustgrad-cpu and PyTorch-CUDA side by side.
#
#   bash benchmarks/gpu_bench.sh [WHEEL_DIR]
#
# Set-up it does: the Vulkan loader (Debian's libvulkan1: from .deb files in .gl/ if present,
# else apt-get), then rustgrad from a prebuilt wheel in WHEEL_DIR (default dist/ or .whl/), else
# from source with `pip install .`. NVIDIA's Vulkan driver ships with its kernel driver; if the
# loader finds no ICD, VK_DRIVER_FILES is pointed at the usual nvidia_icd.json locations.
set -uo pipefail
cd "$(dirname "$0")/.."

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

wheels="${1:-}"
[ -z "$wheels" ] && for d in dist .whl target/wheels; do ls "$d"/rustgrad-*.whl >/dev/null 2>&1 && wheels="$d" && break; done
if [ -n "$wheels" ]; then
    python3 -m pip install -q --no-deps --no-index --target /tmp/rg-site "$wheels"/rustgrad-*.whl "$wheels"/*.whl 2>/dev/null \
        || python3 -m pip install -q --no-deps --target /tmp/rg-site "$wheels"/rustgrad-*.whl
    export PYTHONPATH=/tmp/rg-site${PYTHONPATH:+:$PYTHONPATH}
elif ! python3 -c "import rustgrad" 2>/dev/null; then
    python3 -m pip install -q .
fi

exec python3 - <<'PY'
import statistics
import time

import numpy as np
import rustgrad as rg

try:
    import torch
    HAS_CUDA = torch.cuda.is_available()
except Exception:  # noqa: BLE001
    torch, HAS_CUDA = None, False

if not rg.wgpu.is_available():
    raise SystemExit("rustgrad sees no wgpu adapter (is the Vulkan loader and driver present?)")
info = rg.wgpu.get_device_properties() if hasattr(rg.wgpu, "get_device_properties") else None
print(f"# rustgrad adapter: {rg.wgpu.get_device_name()}  {info or ''}")
if HAS_CUDA:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name()} (TF32 off)")


def timeit(fn, sync, reps=5, min_time=0.2):
    fn(); sync()
    t0 = time.perf_counter(); fn(); sync()
    inner = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        out.append((time.perf_counter() - t0) / inner)
    return statistics.median(out)


rg_sync = rg.wgpu.synchronize
th_sync = torch.cuda.synchronize if HAS_CUDA else None
rows = []


def row(name, unit, rgw, rgc=None, th=None):
    ratio = f"{th / rgw:.2f}x" if (th and rgw and unit == "ms") else (f"{rgw / th:.2f}x" if th and rgw else "-")
    cell = lambda v: "-" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.3g}")  # noqa: E731
    rows.append(f"| {name} | {unit} | {cell(rgw)} | {cell(rgc)} | {cell(th)} | {ratio} |")


rng = np.random.default_rng(0)
for n in (1024, 4096):
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    ga, gb = rg.tensor(a, device="wgpu"), rg.tensor(b, device="wgpu")
    t_rg = timeit(lambda: ga @ gb, rg_sync)
    t_th = None
    if HAS_CUDA:
        ta, tb = torch.tensor(a, device="cuda"), torch.tensor(b, device="cuda")
        t_th = timeit(lambda: ta @ tb, th_sync)
    fl = 2 * n**3 / 1e9
    row(f"matmul {n} f32", "GFLOP/s", fl / t_rg, None, fl / t_th if t_th else None)

n = 1 << 24
x = rg.randn(n, device="wgpu"); y = rg.randn(n, device="wgpu")
t_add = timeit(lambda: x + y, rg_sync)
t_copy = timeit(lambda: x.clone(), rg_sync)
th_add = th_copy = None
if HAS_CUDA:
    tx, ty = torch.randn(n, device="cuda"), torch.randn(n, device="cuda")
    th_add, th_copy = timeit(lambda: tx + ty, th_sync), timeit(lambda: tx.clone(), th_sync)
gb = lambda bytes_, t: bytes_ / t / 1e9 if t else None  # noqa: E731
row("add 16M f32 (3 x 64 MiB)", "GB/s", gb(12 * n, t_add), None, gb(12 * n, th_add))
row("copy 16M f32 (2 x 64 MiB)", "GB/s", gb(8 * n, t_copy), None, gb(8 * n, th_copy))
print(f"# elementwise add reaches {12 * n / t_add / (8 * n / t_copy):.0%} of the copy bandwidth on rustgrad-wgpu")


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


for batch in (64, 256):
    t_rgw = timeit(cnn_step(rg, "wgpu", batch), rg_sync, reps=3)
    t_rgc = timeit(cnn_step(rg, "cpu", batch), lambda: None, reps=3, min_time=0.5)
    t_th = timeit(cnn_step(torch, "cuda", batch), th_sync, reps=3) if HAS_CUDA else None
    row(f"CNN train step b{batch}", "ms", t_rgw * 1e3, t_rgc * 1e3, t_th * 1e3 if t_th else None)

print("| workload | unit | rustgrad-wgpu | rustgrad-cpu | torch-cuda | torch/rustgrad-wgpu |")
print("|---|---|---|---|---|---|")
print("\n".join(rows))
print("(ratio: for ms rows torch time / rustgrad time, for rates rustgrad / torch; >1: rustgrad faster)")
PY
