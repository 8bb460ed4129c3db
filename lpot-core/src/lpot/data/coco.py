"""Detection data in COCO format (annotations JSON + an image folder), for mAP-style metrics.

Each item is ``(image, label)`` with the image as uint8 HWC and the label a dict: ``image_id``,
``boxes`` (float32 N×4, COCO's ``[x, y, width, height]`` in pixels) and ``category_ids`` (int64 N).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from lpot.data.datasets import decode_image, existing_dir, existing_file
from lpot.errors import DataError


class COCORaw:
    def __init__(
        self,
        root: str,
        annotation_file: str,
        mode: str = "RGB",
        skip_empty: bool = False,
        *,
        where: str = "COCORaw",
    ) -> None:
        self.root = existing_dir(root, f"{where}.root")
        path = existing_file(annotation_file, f"{where}.annotation_file")
        try:
            data = json.loads(path.read_text())
            images = {int(img["id"]): img["file_name"] for img in data["images"]}
            boxes: dict[int, list[tuple[list[float], int]]] = {i: [] for i in images}
            for ann in data.get("annotations", []):
                boxes.setdefault(int(ann["image_id"]), []).append(
                    (list(map(float, ann["bbox"])), int(ann["category_id"]))
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(
                f"{where}.annotation_file: {str(path)!r} is not COCO-format JSON ({exc})"
            ) from None
        self.items = [
            (i, images[i], boxes.get(i, [])) for i in sorted(images) if boxes.get(i) or not skip_empty
        ]
        self.mode = mode

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, Any]]:
        image_id, name, anns = self.items[index]
        label = {
            "image_id": image_id,
            "boxes": np.asarray([b for b, _ in anns], dtype=np.float32).reshape(-1, 4),
            "category_ids": np.asarray([c for _, c in anns], dtype=np.int64),
        }
        return decode_image(self.root / name, self.mode), label
