"""Functional image transforms on PIL Images, NumPy HWC arrays and CHW tensors.

Geometric ops work on a NumPy HWC view of the image and convert back to the input's kind;
resampling (resize/rotate) goes through Pillow, which releases the GIL while it works.
"""

import math
import numbers

import numpy as np

import rustgrad

try:
    from PIL import Image
except ImportError:  # Pillow is optional; PIL inputs and resampling need it
    Image = None


def _is_pil(img):
    return Image is not None and isinstance(img, Image.Image)


def _need_pil():
    if Image is None:
        raise ImportError("this transform needs Pillow: pip install pillow")


def _to_hwc(img):
    """(array HWC, kind) for any supported image type."""
    if _is_pil(img):
        a = np.asarray(img)
        return (a[:, :, None] if a.ndim == 2 else a), ("pil", img.mode)
    if isinstance(img, rustgrad.Tensor):
        a = img.detach().numpy()
        if a.ndim < 2:
            raise ValueError(f"tensor image should have at least 2 dimensions, got {a.ndim}")
        if a.ndim == 2:
            return a[:, :, None], ("tensor2", None)
        return np.moveaxis(a, -3, -1), ("tensor", None)
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"ndarray image should be 2/3 dimensional, got {img.ndim}")
        return (img[:, :, None] if img.ndim == 2 else img), ("np2" if img.ndim == 2 else "np", None)
    raise TypeError(f"img should be PIL Image, ndarray or Tensor. Got {type(img)}")


def _from_hwc(a, kind):
    k, mode = kind
    if k == "pil":
        a = np.ascontiguousarray(a)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        return Image.fromarray(
            a, mode=mode if mode in ("L", "RGB", "RGBA", "F", "I", "1") and mode != "1" else None
        )
    if k == "np2":
        return np.ascontiguousarray(a[:, :, 0])
    if k == "np":
        return np.ascontiguousarray(a)
    if k == "tensor2":
        return rustgrad.from_numpy(np.ascontiguousarray(a[:, :, 0]))
    return rustgrad.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, -3)))


def get_image_size(img):
    """[width, height]."""
    a, _ = _to_hwc(img)
    return [a.shape[-2], a.shape[-3]]


def to_tensor(pic):
    """PIL Image / ndarray HWC -> float CHW tensor (uint8 scaled to [0, 1])."""
    if isinstance(pic, rustgrad.Tensor):
        raise TypeError("pic should be PIL Image or ndarray. Got <class 'rustgrad.Tensor'>")
    if _is_pil(pic):
        a = np.asarray(pic)
        if pic.mode == "1":
            a = a.astype(np.uint8) * 255
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        a = pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if a.ndim == 2:
        a = a[:, :, None]
    chw = np.ascontiguousarray(a.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return rustgrad.from_numpy(chw.astype(np.float32) * np.float32(1 / 255))
    if _is_pil(pic):
        return rustgrad.from_numpy(chw.astype(np.float32))
    return rustgrad.from_numpy(chw)


def pil_to_tensor(pic):
    """PIL Image -> uint8 CHW tensor (no scaling)."""
    if not _is_pil(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    a = np.asarray(pic)
    if a.ndim == 2:
        a = a[:, :, None]
    return rustgrad.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """CHW tensor or HWC ndarray -> PIL Image (floats are scaled by 255)."""
    _need_pil()
    if isinstance(pic, rustgrad.Tensor):
        a = pic.detach().numpy()
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
        a = a.transpose(1, 2, 0)
        if a.dtype.kind == "f" and mode != "F":
            a = (a * 255).astype(np.uint8)  # like torchvision: mul(255).byte() (truncates)
    elif isinstance(pic, np.ndarray):
        a = pic if pic.ndim == 3 else pic[:, :, None]
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if a.shape[2] == 1:
        a = a[:, :, 0]
        if mode is None and a.dtype == np.float32:
            mode = "F"
    if a.dtype == np.int64 or a.dtype == np.int32:
        a = a.astype(np.int32)
        mode = mode or "I"
    return Image.fromarray(np.ascontiguousarray(a), mode=mode)


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean[c]) / std[c] per channel of a float CHW (or NCHW) tensor."""
    if not isinstance(tensor, rustgrad.Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.dim() < 3:
        raise ValueError(
            f"Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = {tuple(tensor.shape)}"
        )
    np_dt = "float64" if tensor.dtype == rustgrad.float64 else "float32"
    m = np.asarray(mean, dtype=np_dt).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np_dt).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(
            f"std evaluated to zero after conversion to {tensor.dtype}, leading to division by zero."
        )
    mt, st = rustgrad.from_numpy(np.ascontiguousarray(m)), rustgrad.from_numpy(np.ascontiguousarray(s))
    if inplace:
        return tensor.sub_(mt).div_(st)
    return (tensor - mt) / st


def hflip(img):
    a, k = _to_hwc(img)
    return _from_hwc(a[:, ::-1], k)


def vflip(img):
    a, k = _to_hwc(img)
    return _from_hwc(a[::-1], k)


def crop(img, top, left, height, width):
    """Crop the box; parts outside the image are zero-filled (like torchvision)."""
    a, k = _to_hwc(img)
    h, w = a.shape[:2]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pt, pl = max(-top, 0), max(-left, 0)
        pb, pr = max(top + height - h, 0), max(left + width - w, 0)
        a = np.pad(a, ((pt, pb), (pl, pr), (0, 0)))
        top, left = top + pt, left + pl
    return _from_hwc(a[top : top + height, left : left + width], k)


def _size2(size):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    th, tw = _size2(output_size)
    w, h = get_image_size(img)
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad borders: int, (lr, tb) or (l, t, r, b)."""
    if padding_mode not in _PAD_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if isinstance(padding, numbers.Number):
        pl = pt = pr = pb = int(padding)
    elif len(padding) == 1:
        pl = pt = pr = pb = int(padding[0])
    elif len(padding) == 2:
        pl, pt = pr, pb = int(padding[0]), int(padding[1])
    elif len(padding) == 4:
        pl, pt, pr, pb = (int(p) for p in padding)
    else:
        raise ValueError(
            f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple"
        )
    a, k = _to_hwc(img)
    widths = ((pt, pb), (pl, pr), (0, 0))
    if padding_mode == "constant":
        if isinstance(fill, (tuple, list)):
            out = np.empty((a.shape[0] + pt + pb, a.shape[1] + pl + pr, a.shape[2]), dtype=a.dtype)
            out[...] = np.asarray(fill, dtype=a.dtype)
            out[pt : pt + a.shape[0], pl : pl + a.shape[1]] = a
        else:
            out = np.pad(a, widths, mode="constant", constant_values=fill)
    else:
        out = np.pad(a, widths, mode=_PAD_MODES[padding_mode])
    return _from_hwc(out, k)


_INTERP = {"nearest": 0, "bilinear": 2, "bicubic": 3, "box": 4, "hamming": 5, "lanczos": 1}


def _resample(interpolation):
    if isinstance(interpolation, str):
        return _INTERP[interpolation]
    if hasattr(interpolation, "value"):
        return _INTERP[interpolation.value]
    return int(interpolation)


def _pil_map(a, fn):
    """Apply a PIL op to an HWC array: whole image for uint8 L/RGB/RGBA, per channel ('F') otherwise."""
    _need_pil()
    if a.dtype == np.uint8 and a.shape[2] in (1, 3, 4):
        im = Image.fromarray(np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a))
        out = np.asarray(fn(im))
        return out[:, :, None] if out.ndim == 2 else out
    chans = [
        np.asarray(fn(Image.fromarray(np.ascontiguousarray(a[:, :, c], dtype=np.float32), mode="F")))
        for c in range(a.shape[2])
    ]
    return np.stack(chans, axis=2).astype(a.dtype)


def _target_size(h, w, size, max_size=None):
    if isinstance(size, numbers.Number) or len(size) == 1:
        s = int(size if isinstance(size, numbers.Number) else size[0])
        short, long_ = (w, h) if w <= h else (h, w)
        new_short, new_long = s, int(s * long_ / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    return int(size[0]), int(size[1])


def resize(img, size, interpolation="bilinear", max_size=None, antialias=True):
    """Resize to ``size`` ((h, w), or the short side if an int)."""
    a, k = _to_hwc(img)
    oh, ow = _target_size(a.shape[0], a.shape[1], size, max_size)
    if (oh, ow) == a.shape[:2]:
        return img
    r = _resample(interpolation)
    if _is_pil(img):
        return img.resize((ow, oh), r)
    return _from_hwc(_pil_map(a, lambda im: im.resize((ow, oh), r)), k)


def resized_crop(img, top, left, height, width, size, interpolation="bilinear", antialias=True):
    return resize(crop(img, top, left, height, width), size, interpolation)


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None):
    """Rotate counter-clockwise by ``angle`` degrees around the centre."""
    r = _resample(interpolation)
    if _is_pil(img):
        f = fill
        if isinstance(f, (list, tuple)):
            f = tuple(int(x) for x in f) if len(f) > 1 else int(f[0])
        return img.rotate(angle, r, expand, center, fillcolor=f)
    a, k = _to_hwc(img)
    f = 0 if fill is None else fill
    if isinstance(f, (list, tuple)) and a.dtype != np.uint8:
        f = f[0]
    return _from_hwc(
        _pil_map(
            a,
            lambda im: im.rotate(
                angle,
                r,
                expand,
                center,
                fillcolor=f if im.mode != "L" or not isinstance(f, (list, tuple)) else f[0],
            ),
        ),
        k,
    )


def rgb_to_grayscale(img, num_output_channels=1):
    """ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B)."""
    if _is_pil(img):
        g = img.convert("L")
        return g.convert("RGB") if num_output_channels == 3 else g
    a, k = _to_hwc(img)
    if a.shape[2] == 1:
        g = a.astype(np.float32)
    else:
        g = a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114
        g = g[:, :, None]
    g = (np.clip(np.round(g), 0, 255) if a.dtype == np.uint8 else g).astype(a.dtype)
    return _from_hwc(np.repeat(g, num_output_channels, axis=2), k)


def _blend(a, b, ratio):
    out = ratio * a.astype(np.float32) + (1.0 - ratio) * b
    if a.dtype == np.uint8:
        return np.clip(out, 0, 255).astype(np.uint8)
    return np.clip(out, 0, 1).astype(a.dtype)


def adjust_brightness(img, brightness_factor):
    a, k = _to_hwc(img)
    return _from_hwc(_blend(a, np.zeros_like(a, dtype=np.float32), brightness_factor), k)


def _gray(a):
    if a.shape[2] == 1:
        return a[:, :, 0].astype(np.float32)
    return a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114


def adjust_contrast(img, contrast_factor):
    a, k = _to_hwc(img)
    g = _gray(a)
    if a.dtype == np.uint8:
        g = np.round(g)
    return _from_hwc(_blend(a, np.full_like(a, g.mean(), dtype=np.float32), contrast_factor), k)


def adjust_saturation(img, saturation_factor):
    a, k = _to_hwc(img)
    g = _gray(a)
    if a.dtype == np.uint8:
        g = np.round(g)
    return _from_hwc(_blend(a, np.repeat(g[:, :, None], a.shape[2], axis=2), saturation_factor), k)


def adjust_hue(img, hue_factor):
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    a, k = _to_hwc(img)
    if a.shape[2] != 3:
        return img
    _need_pil()
    u8 = a if a.dtype == np.uint8 else np.clip(a * 255, 0, 255).astype(np.uint8)
    hsv = np.array(Image.fromarray(np.ascontiguousarray(u8)).convert("HSV"))
    hsv[:, :, 0] = (hsv[:, :, 0].astype(np.int16) + int(hue_factor * 255)) % 256
    rgb = np.asarray(Image.fromarray(hsv, "HSV").convert("RGB"))
    out = rgb if a.dtype == np.uint8 else (rgb.astype(np.float32) / 255).astype(a.dtype)
    return _from_hwc(out, k)


_ = math
