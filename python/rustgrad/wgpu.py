"""``rustgrad.wgpu``: the GPU backend's process-level API, in the shape of ``torch.cuda`` / ``torch.mps``.

rustgrad opens one wgpu adapter per process (Vulkan, Metal, DX12 or GL, chosen at run time;
``RUSTGRAD_WGPU_BACKEND`` narrows the choice), so ``device_count()`` is 0 or 1 and the device is
``rustgrad.device("wgpu")`` (``wgpu:0``). Work is asynchronous: kernels are recorded into one
command stream and submitted at sync points (``.item()``, ``.numpy()``, ``.cpu()``, printing,
``synchronize()``).
"""

from rustgrad import _rustgrad as _C


def is_available():
    """True when a wgpu adapter can be opened (opens it on first call; never raises)."""
    return _C._wgpu_is_available()


def device_count():
    """1 with an adapter, else 0 (like ``torch.cuda.device_count()``)."""
    return 1 if is_available() else 0


def current_device():
    """The index of the current device (always 0, like ``torch.cuda.current_device()``)."""
    return 0


def adapter_info():
    """The adapter's description: a dict with ``name``, ``backend`` ("vulkan", "metal", "dx12",
    "gl"), ``driver``, ``driver_info``, ``device_type``, ``vendor``, ``device``, ``features`` and
    the limits the engine requested. RuntimeError when no adapter exists."""
    return _C._wgpu_adapter_info()


def get_device_name(device=None):
    """The adapter's name (e.g. "llvmpipe (LLVM 15.0.7, 256 bits)"), like ``torch.cuda.get_device_name``."""
    return adapter_info()["name"]


def get_device_properties(device=None):
    """Same as :func:`adapter_info` (``torch.cuda.get_device_properties`` returns an object; a
    dict carries the same facts)."""
    return adapter_info()


def synchronize(device=None):
    """Submit the recorded work and wait for the device to finish it (``torch.cuda.synchronize``)."""
    _C._wgpu_synchronize()


def empty_cache():
    """Free the buffer pool's cached (unused) buffers, like ``torch.cuda.empty_cache()``."""
    _C._wgpu_empty_cache()


def stats():
    """The engine counters as a dict: ``dispatches``, ``submits``, ``pipelines_compiled``,
    ``buffers_created``, ``buffers_reused``, ``bytes_uploaded``, ``bytes_downloaded`` (cumulative,
    reset by :func:`reset_stats`), the elementwise-fusion counters ``fused_kernels`` (fused
    chains dispatched), ``fused_stages`` (ops that went into them) and ``stores_elided``
    (intermediate results never written because nothing could read them), and the gauges
    ``bytes_allocated``, ``peak_bytes_allocated``, ``bytes_reserved``. Fusion is on unless
    ``RUSTGRAD_WGPU_FUSION=0`` is set when the engine first records an op."""
    return dict(_C._wgpu_stats())


def reset_stats():
    """Zero the cumulative counters and reset the peak (``torch.cuda.reset_peak_memory_stats``)."""
    _C._wgpu_reset_stats()


reset_peak_memory_stats = reset_stats


def memory_allocated(device=None):
    """Bytes held by live device tensors (pool bucket sizes), like ``torch.cuda.memory_allocated``."""
    return stats()["bytes_allocated"]


def max_memory_allocated(device=None):
    """Peak of :func:`memory_allocated` since the last reset."""
    return stats()["peak_bytes_allocated"]


def memory_reserved(device=None):
    """Bytes of every device buffer the engine holds, in use or cached (``torch.cuda.memory_reserved``)."""
    return stats()["bytes_reserved"]


def manual_seed(seed):
    """Seed the device's default generator (``rand``/``randn``/``bernoulli``/dropout on "wgpu"
    draw on the device with Philox4x32-10). ``rustgrad.manual_seed`` seeds it too."""
    from rustgrad._random import default_wgpu_generator

    default_wgpu_generator.manual_seed(seed)


def manual_seed_all(seed):
    """Same as :func:`manual_seed` (there is one device)."""
    manual_seed(seed)
