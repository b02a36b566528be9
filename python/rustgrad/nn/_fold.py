"""``F.unfold`` (im2col) and ``F.fold`` (col2im), as PyTorch defines them for 4-D (batched) and 3-D
(unbatched) image tensors.

unfold is padding plus two ``Tensor.unfold`` window views and one reshape, so its gradient is the
views' (overlapping windows add up); fold is its adjoint, a ``scatter_add`` of the columns into the
padded image (indices from NumPy), then a crop.
"""

import numpy as np

from rustgrad import _rustgrad as _C


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(v)
    if len(v) != 2:
        raise RuntimeError(f"{name} must be an int or a tuple of two ints")
    return v


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """``F.unfold``: sliding ``kernel_size`` blocks of a (N, C, H, W) or (C, H, W) input as columns,
    shape (N, C * kh * kw, L) (or (C * kh * kw, L))."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    (kh, kw), (dh, dw) = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    (ph, pw), (sh, sw) = _pair(padding, "padding"), _pair(stride, "stride")
    batched = input.ndim == 4
    x = input if batched else input.unsqueeze(0)
    if ph or pw:
        from rustgrad.nn.functional import pad

        x = pad(x, (pw, pw, ph, ph))
    n, c, hp, wp = x.shape
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if hp < eh or wp < ew:
        raise RuntimeError(f"Given input with spatial size ({hp - 2 * ph}, {wp - 2 * pw}), kernel_size=({kh}, {kw}), "
                           f"dilation=({dh}, {dw}), padding=({ph}, {pw}), calculated shape of the array of sliding "
                           "blocks is non-positive.")
    # (N, C, oh, ow, eh, ew) windows, then every dilation-th element of each.
    u = x.unfold(2, eh, sh).unfold(3, ew, sw)
    if dh > 1:
        u = _C._slice(u, 4, None, None, dh)
    if dw > 1:
        u = _C._slice(u, 5, None, None, dw)
    oh, ow = u.shape[2], u.shape[3]
    cols = u.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)
    return cols if batched else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """``F.fold``: sums (N, C * kh * kw, L) columns back into a (N, C, H, W) image (the adjoint of
    :func:`unfold`); 2-D input gives (C, H, W)."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.ndim}D)")
    (h, w), (kh, kw) = _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size")
    (dh, dw), (ph, pw), (sh, sw) = _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride")
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    n, ck, length = x.shape
    if ck % (kh * kw):
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={ck} and kernel_size=({kh}, {kw}).")
    c = ck // (kh * kw)
    hp, wp = h + 2 * ph, w + 2 * pw
    oh = (hp - (dh * (kh - 1) + 1)) // sh + 1
    ow = (wp - (dw * (kw - 1) + 1)) // sw + 1
    if oh * ow != length:
        raise RuntimeError(f"Given output_size=({h}, {w}), kernel_size=({kh}, {kw}), dilation=({dh}, {dw}), "
                           f"padding=({ph}, {pw}), stride=({sh}, {sw}), expected size of input's dimension 2 to match "
                           f"the calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but got "
                           f"input.size(2)={length}.")
    # Target position in the padded (hp, wp) plane of column entry (ki, kj, l).
    ki, kj, bi, bj = np.meshgrid(np.arange(kh), np.arange(kw), np.arange(oh), np.arange(ow), indexing="ij")
    pos = ((bi * sh + ki * dh) * wp + (bj * sw + kj * dw)).reshape(1, 1, -1).astype(np.int64)
    idx = _C.from_numpy(np.ascontiguousarray(pos))._to_device(x.device).expand(n, c, kh * kw * length)
    src = x.reshape(n, c, kh * kw * length)
    zeros = _C._full([n, c, hp * wp], 0.0, x.dtype)._to_device(x.device)
    img = zeros.scatter_add(2, idx, src).reshape(n, c, hp, wp)
    if ph or pw:
        img = img.narrow(2, ph, h).narrow(3, pw, w)
    return img if batched else img.squeeze(0)
