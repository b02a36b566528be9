"""Exceptions raised by ``rustgrad.onnx.export`` (``torch.onnx.errors``'s names)."""

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter (the base of the others)."""


class UnsupportedOperatorError(OnnxExporterError):
    """An operator, module or argument the exporter cannot express in ONNX."""

    def __init__(self, name, opset_version=None, detail=None):
        self.name = name
        self.opset_version = opset_version
        msg = f"Exporting the operator '{name}' to ONNX"
        if opset_version is not None:
            msg += f" opset version {opset_version}"
        msg += " is not supported by rustgrad.onnx"
        msg += f": {detail}" if detail else "."
        super().__init__(msg)
