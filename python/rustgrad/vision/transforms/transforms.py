"""Transform classes (``torchvision.transforms``). Random ones draw from rustgrad's default
generator, so ``rustgrad.manual_seed`` makes augmentation reproducible."""

import math
import numbers

import numpy as np

from rustgrad import _random
from rustgrad.vision.transforms import functional as F

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "Grayscale",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "Pad",
    "RandomApply",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToPILImage",
    "ToTensor",
]


def _rng():
    return _random.default_generator._rng


def _uniform(lo, hi):
    return float(_rng().uniform(lo, hi))


class Compose:
    """Apply transforms in sequence."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class _Simple:
    def __repr__(self):
        return f"{type(self).__name__}()"


class ToTensor(_Simple):
    """PIL Image / ndarray (HWC, uint8 scaled to [0,1]) -> float CHW tensor."""

    def __call__(self, pic):
        return F.to_tensor(pic)


class PILToTensor(_Simple):
    """PIL Image -> uint8 CHW tensor."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)


class ToPILImage:
    """Tensor / ndarray -> PIL Image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self):
        return f"{type(self).__name__}(mode={self.mode})"


class Normalize:
    """Per-channel ``(x - mean) / std`` on a float tensor image."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Lambda:
    """Wrap a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"


class RandomHorizontalFlip:
    """Flip left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return F.hflip(img) if _rng().random() < self.p else img

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Flip top-bottom with probability ``p``."""

    def __call__(self, img):
        return F.vflip(img) if _rng().random() < self.p else img


def _check_size(size):
    if isinstance(size, numbers.Number):
        return (int(size), int(size))
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return (int(size[0]), int(size[0]))
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return (int(size[0]), int(size[1]))
    raise ValueError("Please provide only two dimensions (h, w) for size.")


class Resize:
    """Resize to ``size`` ((h, w) or the shorter side)."""

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        if not isinstance(size, (int, list, tuple)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        self.size, self.interpolation, self.max_size, self.antialias = (
            size,
            interpolation,
            max_size,
            antialias,
        )

    def __call__(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation})"


class CenterCrop:
    """Crop the centre ``size`` box."""

    def __init__(self, size):
        self.size = _check_size(size)

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class Pad:
    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop:
    """Crop a random ``size`` box, after optional padding."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _check_size(size)
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = (
            padding,
            pad_if_needed,
            fill,
            padding_mode,
        )

    @staticmethod
    def get_params(img, output_size):
        w, h = F.get_image_size(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        i = int(_rng().integers(0, h - th + 1))
        j = int(_rng().integers(0, w - tw + 1))
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        w, h = F.get_image_size(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = F.pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = F.pad(img, [0, th - h], self.fill, self.padding_mode)
        i, j, hh, ww = self.get_params(img, self.size)
        return F.crop(img, i, j, hh, ww)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (or [-degrees, degrees])."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("If degrees is a single number, it must be positive.")
            degrees = (-degrees, degrees)
        elif len(degrees) != 2:
            raise ValueError("If degrees is a sequence, it must be of len 2.")
        self.degrees = [float(d) for d in degrees]
        self.interpolation, self.expand, self.center, self.fill = interpolation, expand, center, fill

    @staticmethod
    def get_params(degrees):
        return _uniform(degrees[0], degrees[1])

    def __call__(self, img):
        return F.rotate(
            img, self.get_params(self.degrees), self.interpolation, self.expand, self.center, self.fill
        )

    def __repr__(self):
        return f"{type(self).__name__}(degrees={self.degrees})"


class RandomResizedCrop:
    """Random area/aspect crop, resized to ``size``."""

    def __init__(
        self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation="bilinear", antialias=True
    ):
        self.size = _check_size(size)
        self.scale, self.ratio, self.interpolation = scale, ratio, interpolation

    @staticmethod
    def get_params(img, scale, ratio):
        w, h = F.get_image_size(img)
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * _uniform(scale[0], scale[1])
            ar = math.exp(_uniform(*log_ratio))
            cw = int(round(math.sqrt(target * ar)))
            ch = int(round(math.sqrt(target / ar)))
            if 0 < cw <= w and 0 < ch <= h:
                i = int(_rng().integers(0, h - ch + 1))
                j = int(_rng().integers(0, w - cw + 1))
                return i, j, ch, cw
        in_ratio = w / h
        if in_ratio < min(ratio):
            cw, ch = w, int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            ch, cw = h, int(round(h * max(ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation)


class Grayscale:
    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)


class ColorJitter:
    """Random brightness/contrast/saturation/hue in random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._range(brightness, 1, (0, float("inf")))
        self.contrast = self._range(contrast, 1, (0, float("inf")))
        self.saturation = self._range(saturation, 1, (0, float("inf")))
        self.hue = self._range(hue, 0, (-0.5, 0.5))

    @staticmethod
    def _range(v, center, bound):
        if isinstance(v, numbers.Number):
            if v < 0:
                raise ValueError("If value is a single number, it must be non negative.")
            v = (center - v, center + v)
            if center == 1:
                v = (max(v[0], 0.0), v[1])
        v = (float(v[0]), float(v[1]))
        if not bound[0] <= v[0] <= v[1] <= bound[1]:
            raise ValueError(f"values should be between {bound}")
        return None if v[0] == v[1] == center else v

    def __call__(self, img):
        ops = [
            (self.brightness, F.adjust_brightness),
            (self.contrast, F.adjust_contrast),
            (self.saturation, F.adjust_saturation),
            (self.hue, F.adjust_hue),
        ]
        for k in _rng().permutation(4).tolist():
            rng_, fn = ops[k]
            if rng_ is not None:
                img = fn(img, _uniform(*rng_))
        return img


class RandomApply:
    def __init__(self, transforms, p=0.5):
        self.transforms, self.p = list(transforms), p

    def __call__(self, img):
        if _rng().random() >= self.p:
            return img
        for t in self.transforms:
            img = t(img)
        return img


_ = np
