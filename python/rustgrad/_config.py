"""``rustgrad.show_config()`` / ``python -m rustgrad``: what was built and what this machine offers,
the first thing to paste into a bug report."""

import os
import platform
import sys


def _gpu_lines():
    from rustgrad import wgpu

    if not wgpu.is_available():
        return ["  none found (set RUSTGRAD_WGPU_BACKEND to narrow the search; a CPU-only machine has none)"]
    info = wgpu.adapter_info()
    lines = [f"  {info.get('name', '?')} [{info.get('backend', '?')}, {info.get('device_type', '?')}]"]
    driver = " ".join(str(info.get(k, "")) for k in ("driver", "driver_info")).strip()
    if driver:
        lines.append(f"  driver: {driver}")
    feats = info.get("features")
    if feats:
        lines.append(f"  features: {', '.join(sorted(str(f) for f in feats))}")
    return lines


def config_dict():
    """The facts :func:`show_config` prints, as a dict (stable keys, for tools)."""
    import numpy

    from rustgrad import _rustgrad as _C

    build = dict(_C._build_info())
    ext = getattr(_C, "__file__", "") or ""
    # The wheel's extension is named *.abi3.so (stable ABI, one file for every CPython >= 3.9); the
    # dev build copies the same library under a version-specific name.
    build["abi3"] = ".abi3." in os.path.basename(ext)
    build["extension"] = ext
    build["python"] = sys.version.split()[0]
    build["numpy"] = numpy.__version__
    build["platform"] = platform.platform()
    build["threads"] = _C.get_num_threads()
    return build


def show_config(file=None):
    """Print rustgrad's version, build options, the CPU features detected and the SIMD path the
    kernels chose, the thread count, and the GPU adapters found (``torch.show_config``'s role)."""
    file = file or sys.stdout
    c = config_dict()
    feats = " ".join(c["cpu_features"]) or "(baseline only)"
    lines = [
        f"rustgrad {c['version']} ({c['profile']} build, {'abi3' if c['abi3'] else 'version-specific'} extension)",
        f"  extension: {c['extension']}",
        f"  Python {c['python']}, NumPy {c['numpy']}, {c['platform']}",
        "CPU:",
        f"  model: {_cpu_model()}",
        f"  features detected: {feats}",
        f"  kernel path: {c['simd_path']} (RUSTGRAD_SIMD overrides)",
        f"  threads: {c['threads']} (set_num_threads / RUSTGRAD_NUM_THREADS)",
        f"GPU (wgpu {'compiled in' if c['wgpu_compiled'] else 'not compiled in'}):",
    ]
    if c["wgpu_compiled"]:
        try:
            lines += _gpu_lines()
        except Exception as e:  # a broken driver must not stop the report
            lines.append(f"  adapter query failed: {type(e).__name__}: {e}")
    env = {k: v for k, v in os.environ.items() if k.startswith("RUSTGRAD_")}
    if env:
        lines.append("Environment:")
        lines += [f"  {k}={v}" for k, v in sorted(env.items())]
    print("\n".join(lines), file=file)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
