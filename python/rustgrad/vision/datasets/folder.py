"""ImageFolder: root/<class>/<image> trees."""

import os

from rustgrad.vision.datasets._common import VisionDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    from PIL import Image

    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


class ImageFolder(VisionDataset):
    """Generic image dataset: one sub-folder per class, sorted by name."""

    def __init__(self, root, transform=None, target_transform=None, loader=pil_loader, is_valid_file=None):
        super().__init__(os.fspath(root), transform, target_transform)
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {self.root}.")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        valid = is_valid_file or (lambda p: p.lower().endswith(IMG_EXTENSIONS))
        self.samples = []
        for c in self.classes:
            for dirpath, _, files in sorted(os.walk(os.path.join(self.root, c))):
                for fn in sorted(files):
                    p = os.path.join(dirpath, fn)
                    if valid(p):
                        self.samples.append((p, self.class_to_idx[c]))
        self.imgs = self.samples
        self.targets = [s[1] for s in self.samples]
        self.loader = loader

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._finish(self.loader(path), target)
