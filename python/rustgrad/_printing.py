"""``repr`` of tensors in PyTorch's format (precision 4, summarised above 1000 elements)."""

import math

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80
SCI_MODE = None


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set the printing precision/threshold/edgeitems/linewidth/sci_mode (like torch.set_printoptions)."""
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH, SCI_MODE
    if profile == "default":
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = 4, 1000, 3, 80
    SCI_MODE = sci_mode
    PRECISION = PRECISION if precision is None else precision
    THRESHOLD = THRESHOLD if threshold is None else threshold
    EDGEITEMS = EDGEITEMS if edgeitems is None else edgeitems
    LINEWIDTH = LINEWIDTH if linewidth is None else linewidth


class _Formatter:
    """Chooses one number format for all elements, as PyTorch does.

    Like PyTorch, the width and the mode (integer-valued / fixed / scientific) are decided by
    the nonzero finite values only, so zeros, nan and inf never widen the columns.
    """

    def __init__(self, values, is_float):
        self.is_float = is_float
        self.int_mode = True
        self.sci = False
        self.width = 1
        if not is_float:
            self.width = max((len(str(int(v))) for v in values), default=1)
            return
        nz = values[np.isfinite(values) & (values != 0)]
        if not nz.size:
            return
        self.int_mode = bool(np.all(nz == np.ceil(nz)))
        mags = np.abs(nz)
        mx, mn = mags.max(), mags.min()
        if self.int_mode:
            self.sci = mx / mn > 1000.0 or mx > 1e8
        else:
            self.sci = mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4
        if SCI_MODE is not None:
            self.sci = SCI_MODE
        self.width = max(len(self._fmt(v)) for v in nz.tolist())

    def _fmt(self, v):
        if not self.is_float:
            return str(int(v))
        if self.sci:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}" + ("" if math.isnan(v) or math.isinf(v) else ".")
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        return self._fmt(v).rjust(self.width)


def _summarize(a):
    """Keep only the edge items of each dim (for the formatter's width)."""
    if a.ndim == 0:
        return a.reshape(-1)
    if a.shape[0] > 2 * EDGEITEMS:
        a = np.concatenate([a[:EDGEITEMS], a[-EDGEITEMS:]])
    return np.concatenate([_summarize(x) for x in a]) if a.ndim > 1 else a


def _render(a, fmt, indent, summarize):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        items = [fmt.format(v) for v in a.tolist()]
        if summarize and len(items) > 2 * EDGEITEMS:
            items = items[:EDGEITEMS] + [" ..."] + items[-EDGEITEMS:]
        per_line = max(1, (LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(a.shape[0]))
    parts = []
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        rows = rows[:EDGEITEMS] + [None] + rows[-EDGEITEMS:]
    for r in rows:
        parts.append("..." if r is None else _render(a[r], fmt, indent + 1, summarize))
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    import rustgrad

    # A device tensor is downloaded here (a sync point). bfloat16 has no NumPy dtype: its values
    # widen to float32 exactly, and the formatter only sees values.
    a = (t.detach().float() if t.dtype == rustgrad.bfloat16 else t.detach()).numpy()
    is_float = a.dtype.kind == "f"
    is_bool = a.dtype.kind == "b"
    summarize = a.size > THRESHOLD
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")  # first, as PyTorch prints device='cuda:0'
    if a.size == 0:
        # Nothing to infer the dtype from, so it is shown unless it is the default one.
        body = "[]"
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if t.dtype != rustgrad.get_default_dtype():
            suffixes.append(f"dtype={t.dtype!r}")
    elif is_bool:
        body = _render(a.astype(object), _BoolFmt(a if not summarize else _summarize(a)), 7, summarize)
    else:
        vals = _summarize(a) if summarize else a.reshape(-1)
        fmt = _Formatter(vals.astype(np.float64) if is_float else vals, is_float)
        body = _render(a, fmt, 7, summarize)
    if a.size != 0 and t.dtype not in (rustgrad.get_default_dtype(), rustgrad.int64, rustgrad.bool):
        suffixes.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    inner = body + "".join(", " + s for s in suffixes)
    return f"tensor({inner})"


class _BoolFmt:
    """Bools are right-aligned to the widest word present ("True" or "False")."""

    def __init__(self, a):
        self.width = 5 if not a.all() else 4

    def format(self, v):
        return str(bool(v)).rjust(self.width)
