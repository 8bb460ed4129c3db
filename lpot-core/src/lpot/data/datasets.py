"""Image datasets named as in LPOT configs: ImageFolder, ImagenetRaw / Imagenet, ImageRecord (flat).

Datasets are map-style (``len`` and ``[i] -> (image, label)``) and lazy: the constructor only lists
files, images are decoded with Pillow when a batch asks for them, so memory stays flat in dataset
size. Images come out as ``uint8`` HWC numpy arrays (RGB unless ``mode`` says otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lpot.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".gif")
LABEL_FILES = ("labels.txt", "label.txt", "val.txt", "val_map.txt", "image_list.txt")


def existing_dir(path: Any, where: str) -> Path:
    """``path`` as a folder that exists, else an error naming the config key and the path."""
    p = Path(str(path)).expanduser()
    if not p.exists():
        raise DataError(f"{where}: {str(path)!r} does not exist")
    if not p.is_dir():
        raise DataError(f"{where}: {str(path)!r} is not a folder")
    return p


def existing_file(path: Any, where: str) -> Path:
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise DataError(f"{where}: {str(path)!r} does not exist or is not a file")
    return p


def decode_image(path: Path, mode: str = "RGB") -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot decode image {str(path)!r}: {exc}") from exc


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


class _ImageList:
    """``samples`` of (image path, label), decoded on access."""

    samples: list[tuple[Path, int]]
    mode: str

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        path, label = self.samples[index]
        return decode_image(path, self.mode), label


class ImageFolder(_ImageList):
    """``root/<class name>/<image>``: labels are class indices in sorted class-name order."""

    def __init__(self, root: str, mode: str = "RGB", *, where: str = "ImageFolder") -> None:
        base = existing_dir(root, f"{where}.root")
        self.classes = sorted(p.name for p in base.iterdir() if p.is_dir())
        self.samples = [
            (img, label) for label, name in enumerate(self.classes) for img in _images_in(base / name)
        ]
        if not self.samples:
            raise DataError(f"{where}.root: no images in class sub-folders of {str(root)!r}")
        self.mode = mode


def read_label_list(path: Path, where: str) -> list[tuple[str, int]]:
    """Lines of ``<image file> <integer label>`` (whitespace separated); blank lines ignored."""
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            entries.append((parts[0], int(parts[-1])))
        except (ValueError, IndexError):
            raise DataError(
                f"{where}: {path}:{number}: expected '<image file> <integer label>', got {line!r}"
            ) from None
    return entries


class ImagenetRaw(_ImageList):
    """A flat folder of images and a label list of ``<file> <label>`` lines (LPOT's ImagenetRaw)."""

    def __init__(
        self, data_path: str, image_list: str | None = None, mode: str = "RGB", *, where: str = "ImagenetRaw"
    ) -> None:
        self.root = existing_dir(data_path, f"{where}.data_path")
        labels = (
            existing_file(image_list, f"{where}.image_list")
            if image_list
            else _find_label_file(self.root, where)
        )
        self.samples = [(self.root / name, label) for name, label in read_label_list(labels, where)]
        missing = [str(p) for p, _ in self.samples if not p.exists()]
        if missing:
            raise DataError(
                f"{where}: {len(missing)} images of the label list are missing, e.g. {missing[0]!r}"
            )
        self.mode = mode


def _find_label_file(root: Path, where: str) -> Path:
    for candidate in (root / name for name in LABEL_FILES):
        if candidate.is_file():
            return candidate
    raise DataError(f"{where}: no label list in {str(root)!r}; expected one of {', '.join(LABEL_FILES)}")


class Imagenet(ImagenetRaw):
    """LPOT's ``Imagenet``: ``root`` holding a validation folder (``val/`` or root itself) and a label list."""

    def __init__(
        self, root: str, image_list: str | None = None, mode: str = "RGB", *, where: str = "Imagenet"
    ) -> None:
        base = existing_dir(root, f"{where}.root")
        data = base / "val" if (base / "val").is_dir() else base
        labels = image_list or next(
            (str(p / n) for p in (base, data) for n in LABEL_FILES if (p / n).is_file()), None
        )
        if labels is None:
            raise DataError(
                f"{where}: no label list in {str(root)!r}; expected one of {', '.join(LABEL_FILES)}"
            )
        super().__init__(str(data), labels, mode, where=where)


class ImageRecord(ImagenetRaw):
    """LPOT's ``ImageRecord``. A folder of TFRecord shards needs TensorFlow's parser (lpot-tensorflow);
    a flat folder of images with a label list works everywhere."""

    def __init__(self, root: str, mode: str = "RGB", *, where: str = "ImageRecord") -> None:
        base = existing_dir(root, f"{where}.root")
        if not _images_in(base) and any(p.name.startswith(("validation-", "train-")) for p in base.iterdir()):
            raise DataError(
                f"{where}.root: {str(root)!r} holds TFRecord shards; decoding them needs TensorFlow: "
                "pip install lpot-tensorflow (it provides the TFRecord ImageRecord dataset)"
            )
        super().__init__(str(base), None, mode, where=where)
