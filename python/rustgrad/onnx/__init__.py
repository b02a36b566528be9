"""``rustgrad.onnx``: export a model to ONNX, in the shape of ``torch.onnx.export``.

The export traces one forward pass on the example ``args`` (see ``_tracer.py`` for how and why)
and writes the graph with the ``onnx`` package, an optional dependency
(``pip install rustgrad[onnx]``); importing ``rustgrad.onnx`` does not need it, exporting does.
Parameters become initializers under their ``state_dict`` names; ``dynamic_axes`` become symbolic
dimensions. Layers and operations without an ONNX rule raise
:class:`rustgrad.onnx.errors.UnsupportedOperatorError` naming them.
"""

import enum
import warnings

import rustgrad
from rustgrad.onnx import errors
from rustgrad.onnx._tracer import TracerWarning
from rustgrad.onnx.errors import OnnxExporterError, UnsupportedOperatorError

__all__ = [
    "export",
    "is_in_onnx_export",
    "errors",
    "OnnxExporterError",
    "UnsupportedOperatorError",
    "TrainingMode",
    "TracerWarning",
]

DEFAULT_OPSET = 18  # what torch.onnx's exporter targets by default
MIN_NATIVE_OPSET = 13  # graphs are built directly for 13+; older opsets go through the version converter


class TrainingMode(enum.IntEnum):
    """``torch.onnx.TrainingMode``: the mode the model is exported in."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def is_in_onnx_export():
    """True while :func:`export` is tracing a model (as ``torch.onnx.is_in_onnx_export``)."""
    from rustgrad.onnx._tracer import active

    return active() is not None


def _import_onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "rustgrad.onnx.export needs the 'onnx' package: pip install onnx (or rustgrad[onnx])"
        ) from e
    return onnx


def _split_args(args, kwargs):
    if isinstance(args, rustgrad.Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):  # torch's legacy "last dict holds keyword args"
        kwargs = {**args[-1], **kwargs}
        args = args[:-1]
    return args, kwargs


def _flat(obj, out):
    if isinstance(obj, rustgrad.Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _flat(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flat(o, out)
    return out


def _default_input_names(model, n):
    import inspect  # only here: keeps `import rustgrad` fast

    try:
        params = [
            p.name
            for p in inspect.signature(model.forward if hasattr(model, "forward") else model).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    names = params[:n] if len(params) >= n else []
    return names or [f"input_{i}" for i in range(n)]


def _dims(name, shape, dynamic_axes):
    spec = (dynamic_axes or {}).get(name)
    dims = list(shape)
    if spec is None:
        return dims
    if isinstance(spec, dict):
        items = spec.items()
    else:
        items = ((int(a), f"{name}_dynamic_axes_{i + 1}") for i, a in enumerate(spec))
    for axis, sym in items:
        axis = int(axis)
        if not -len(dims) <= axis < len(dims):
            raise ValueError(f"dynamic_axes for {name!r}: axis {axis} is out of range for shape {list(shape)}")
        dims[axis] = str(sym)
    return dims


def _value_info(onnx, name, t, dynamic_axes):
    from rustgrad.onnx._graph import onnx_dtype

    arr = t.detach().numpy()
    return onnx.helper.make_tensor_value_info(name, onnx_dtype(arr.dtype), _dims(name, arr.shape, dynamic_axes))


def export(
    model,
    args=(),
    f=None,
    *,
    kwargs=None,
    verbose=None,
    input_names=None,
    output_names=None,
    opset_version=None,
    dynamo=True,
    external_data=True,
    dynamic_shapes=None,
    custom_translation_table=None,
    report=False,
    optimize=True,
    verify=False,
    profile=False,
    dump_exported_program=False,
    artifacts_dir=".",
    fallback=False,
    export_params=True,
    keep_initializers_as_inputs=False,
    dynamic_axes=None,
    training=TrainingMode.EVAL,
    operator_export_type=None,
    do_constant_folding=True,
    custom_opsets=None,
    export_modules_as_functions=False,
    autograd_inlining=True,
    **unused,
):
    """Export ``model`` (a ``nn.Module``, or a function of tensors) to ONNX by tracing
    ``model(*args, **kwargs)`` once, as ``torch.onnx.export``; writes ``f`` (a path or binary file
    object; nothing is written for ``f=None``) and returns the ``onnx.ModelProto``.

    ``input_names``/``output_names`` name the graph's inputs and outputs (default: the forward's
    parameter names, and ``output`` / ``output_0, output_1, ...``); ``dynamic_axes`` maps a name
    to the axes that are symbolic (a list, named ``{name}_dynamic_axes_{k}`` as PyTorch does, or
    ``{axis: "name"}``); ``opset_version`` defaults to 18 (13 and newer are built directly; older ones are built
    at 13 and converted down with ``onnx.version_converter``, with a warning where that fails);
    ``export_params=False`` makes the parameters graph inputs instead of initializers
    (``keep_initializers_as_inputs=True``: both, the initializer being the input's default);
    ``training=TrainingMode.EVAL`` (the default) exports in eval mode. The TorchScript- and
    dynamo-specific options (``dynamo``, ``optimize``, ``do_constant_folding``, ``report``, ...) are
    accepted and have no effect: the graph is the traced one."""
    onnx = _import_onnx()
    from rustgrad.onnx._graph import Graph
    from rustgrad.onnx._tracer import Tracer

    if dynamic_shapes is not None and dynamic_axes is None:
        raise UnsupportedOperatorError("dynamic_shapes", None, "use dynamic_axes= (names -> axes) instead")
    max_opset = onnx.defs.onnx_opset_version()
    target = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if target > max_opset:
        raise ValueError(f"opset_version {target} is newer than the installed onnx supports ({max_opset})")
    build_opset = max(target, MIN_NATIVE_OPSET)
    args, kwargs = _split_args(args, kwargs)
    is_module = isinstance(model, rustgrad.nn.Module)

    # Inputs: float tensors get fresh leaves that require grad (see _tracer: that is how a value
    # computed from them untraced is caught); parameters stop requiring grad meanwhile.
    def prepare(a):
        if isinstance(a, rustgrad.Tensor):
            c = a.detach().clone()
            if c.is_floating_point():
                c.requires_grad_(True)
            return c
        if isinstance(a, (tuple, list)):
            return type(a)(prepare(x) for x in a)
        return a

    t_args = tuple(prepare(a) for a in args)
    t_kwargs = {k: prepare(v) for k, v in kwargs.items()}
    inputs = _flat(list(t_args) + list(t_kwargs.values()), [])
    if input_names is None:
        input_names = _default_input_names(model, len(inputs))
        if len(input_names) != len(inputs):
            input_names = [f"input_{i}" for i in range(len(inputs))]
    input_names = list(input_names)
    if len(input_names) > len(inputs):
        raise ValueError(f"{len(input_names)} input_names for {len(inputs)} tensor inputs")
    input_names += [f"input_{i}" for i in range(len(input_names), len(inputs))]

    graph = Graph(build_opset, export_params=export_params, keep_initializers_as_inputs=keep_initializers_as_inputs)
    params = []
    if is_module:
        for name, p in list(model.named_parameters()) + list(model.named_buffers()):
            graph.param_names.setdefault(id(p), name)
        params = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training if is_module else None
    for name, x in zip(input_names, inputs):
        graph.bind(x, graph.reserve(name))

    try:
        for p, _ in params:
            p.requires_grad_(False)
        if is_module and training == TrainingMode.EVAL:
            model.eval()
        elif is_module and training == TrainingMode.TRAINING:
            model.train()
        with Tracer(graph):
            out = model(*t_args, **t_kwargs)
    finally:
        for p, rg in params:
            p.requires_grad_(rg)
        if is_module:
            model.train(was_training)

    outs = _flat(out, [])
    if not outs:
        raise OnnxExporterError("the model returned no tensors")
    if output_names is None:
        output_names = ["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
    output_names = list(output_names)
    if len(output_names) > len(outs):
        raise ValueError(f"{len(output_names)} output_names for {len(outs)} outputs")
    output_names += [f"output_{i}" for i in range(len(output_names), len(outs))]
    for name, t in zip(output_names, outs):
        src = graph.value(t)
        graph.reserve(name)
        graph.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"/output/{name}"))

    in_infos = [_value_info(onnx, n, x, dynamic_axes) for n, x in zip(input_names, inputs)]
    out_infos = [_value_info(onnx, n, t, dynamic_axes) for n, t in zip(output_names, outs)]
    g = onnx.helper.make_graph(
        graph.nodes,
        "main_graph",
        in_infos + graph.graph_inputs_extra,
        out_infos,
        initializer=graph.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", build_opset)]
    proto = onnx.helper.make_model(
        g,
        opset_imports=opsets,
        producer_name="rustgrad",
        producer_version=getattr(rustgrad, "__version__", "0"),
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    if target < build_opset:
        try:
            proto = onnx.version_converter.convert_version(proto, target)
        except Exception as e:
            warnings.warn(
                f"rustgrad.onnx.export: could not convert the graph down to opset {target} ({e}); "
                f"it is exported with opset {build_opset}",
                stacklevel=2,
            )
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise OnnxExporterError(f"the exported graph failed onnx.checker: {e}") from e
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    if f is not None:
        onnx.save(proto, f)
    return proto
