"""Image-grid helpers (``torchvision.utils``): ``make_grid`` and ``save_image``."""

import math
import pathlib

import numpy as np

import rustgrad

__all__ = ["make_grid", "save_image"]


def _normalize_range(img, low, high):
    """Clamp to [low, high] and map that interval onto [0, 1] (a zero-width range divides by 1e-5)."""
    img = img.clamp(min=low, max=high)
    return (img - low) / max(high - low, 1e-5)


def _scale(t, value_range):
    if value_range is not None:
        return _normalize_range(t, value_range[0], value_range[1])
    return _normalize_range(t, float(t.min()), float(t.max()))


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tiles a batch of images into one image (``torchvision.utils.make_grid``).

    ``tensor`` is a (B, C, H, W) tensor or a list of (C, H, W) tensors; 2-D and 3-D inputs are
    single images. One-channel images are repeated to three channels. ``nrow`` images go in a
    row, with ``padding`` pixels of ``pad_value`` between and around them. With ``normalize``,
    pixel values are shifted and scaled into [0, 1] using ``value_range`` (min, max) or the
    data's own min/max, per image when ``scale_each``. Returns a (C, H', W') tensor.
    """
    if not isinstance(tensor, rustgrad.Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, rustgrad.Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = rustgrad.stack(tensor, dim=0)

    if tensor.dim() == 2:  # one image, one channel
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:  # one image
        if tensor.shape[0] == 1:
            tensor = rustgrad.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.shape[1] == 1:  # a batch of one-channel images
        tensor = rustgrad.cat((tensor, tensor, tensor), 1)

    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        if scale_each:
            tensor = rustgrad.stack([_scale(t, value_range) for t in tensor], 0)
        else:
            tensor = _scale(tensor, value_range)

    if tensor.shape[0] == 1:
        return tensor.squeeze(0)

    nmaps = tensor.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.shape[2] + padding), int(tensor.shape[3] + padding)
    num_channels = tensor.shape[1]
    grid = tensor.new_full((num_channels, height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            top, left = y * height + padding, x * width + padding
            grid[:, top : top + height - padding, left : left + width - padding] = tensor[k]
            k += 1
    return grid


def save_image(tensor, fp, format=None, **kwargs):
    """Writes ``tensor`` (an image or a batch, through ``make_grid``) to ``fp`` with Pillow.

    ``fp`` is a path or a binary file object; ``format`` overrides the format the file name
    implies (needed for file objects). Values in [0, 1] map to 0..255 with rounding, as
    torchvision does. ``kwargs`` go to ``make_grid``.
    """
    from PIL import Image

    grid = make_grid(tensor, **kwargs)
    # x * 255 + 0.5 then truncation: round-half-up, in the tensor's own precision
    arr = grid.detach().to("cpu").numpy()
    arr = np.clip(arr * arr.dtype.type(255) + arr.dtype.type(0.5), 0, 255).astype(np.uint8)
    arr = np.ascontiguousarray(arr.transpose(1, 2, 0))
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    im = Image.fromarray(arr)
    if isinstance(fp, pathlib.Path):
        fp = str(fp)
    im.save(fp, format=format)
