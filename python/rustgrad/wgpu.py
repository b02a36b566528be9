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


# ---------------------------------------------------------------- GEMM kernels (matmul, conv)
_ACTIVATIONS = ("none", "relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu")


def tune_matmul(quick=False):
    """Time the matmul tile variants (``small`` 32x32, ``mid`` 64x64, ``big`` 128x128 blocks) on
    this adapter, one representative product per size class, and use the fastest per class from
    then on. The choice is cached in ``~/.cache/rustgrad/wgpu-tune-<adapter>.json`` (under
    ``$XDG_CACHE_HOME`` when set) and read by later processes; a corrupt or foreign file is ignored,
    and ``RUSTGRAD_WGPU_TUNE=0`` ignores the cache. Without tuning a size heuristic chooses.
    ``quick`` times 16x smaller problems. Returns ``{"path": file or None, "classes": {class:
    {"winner": name, "seconds": {variant: s}}}}``."""
    rows, path = _C._wgpu_tune_matmul(16 if quick else 1)
    return {"path": path,
            "classes": {c: {"winner": w, "seconds": dict(times)} for c, w, times in rows}}


def clear_matmul_tuning():
    """Forget this process's tuned matmul table (the file stays; the size heuristic applies)."""
    _C._wgpu_clear_tuning()


def matmul_variant(name=None):
    """Force one GEMM variant for every matmul and convolution (``"small"``, ``"mid"``, ``"big"``,
    or ``"legacy"``: the first 64x64 matmul kernel and the im2col convolution), or with ``None``
    choose per problem again. For benchmarks and tests; returns the previous setting."""
    return _C._wgpu_matmul_variant(name)


def matmul_tile(m, n, batches=1):
    """The variant a ``batches x (m x n)`` product would run with now."""
    return _C._wgpu_matmul_tile(int(m), int(n), int(batches))


def force_exact_conv_division(force=True):
    """Test switch: with ``force`` every implicit-GEMM convolution built from now on decomposes its
    addresses with exact integer division, the variant real problems take only when an address
    index reaches 2^22 (below that an f32 reciprocal is exact and cheaper; see
    ``shaders/fast_divmod.wgsl``). ``False`` chooses by size again. Returns the previous setting."""
    return _C._wgpu_conv_exact_division(bool(force))


def _act_name(activation):
    name = "none" if activation is None else str(activation)
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown fused activation '{name}' (expected one of {', '.join(_ACTIVATIONS)})")
    return name


def fused_linear(input, weight, bias=None, activation=None):
    """``activation(F.linear(input, weight, bias))`` in one GEMM on the wgpu device: the bias add and
    the activation (``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"gelu"``, ``"gelu_tanh"``, ``"silu"``
    or None) run before the product is stored. Differentiable; on the CPU it is the plain
    composition of the same ops."""
    return _C._linear_act(input, weight, bias, _act_name(activation))


def fused_addmm(input, mat1, mat2, activation=None):
    """``activation(torch.addmm(input, mat1, mat2))`` (beta = alpha = 1) in one GEMM on the wgpu
    device, ``input`` broadcast to ``[m, n]``; the composition elsewhere."""
    return _C._addmm_act(input, mat1, mat2, _act_name(activation))


def fused_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None):
    """``activation(F.conv2d(input, weight, bias, ...))``: on the wgpu device the bias and a
    ``"relu"``, ``"sigmoid"`` or ``"tanh"`` activation run in the implicit-GEMM convolution's
    epilogue (one kernel); other activations, and the CPU, apply it as a separate op."""
    from rustgrad._nn_native import _conv2d_act
    return _conv2d_act(input, weight, bias, stride, padding, dilation, groups, _act_name(activation))
