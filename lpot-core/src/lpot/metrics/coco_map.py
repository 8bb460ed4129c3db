"""COCO detection mAP in numpy, following the rules of pycocotools' ``COCOeval`` for boxes.

Per image and category, detections (the ``max_detections`` best scores) are matched greedily in
score order to the unmatched ground-truth box of highest IoU at each IoU threshold; crowd boxes
are ignored and may absorb several detections. Per category, precision is made monotone and read
at 101 recall points; mAP is the mean over IoU thresholds and over the categories that have ground
truth. Matches are computed per batch, so only scores and match flags are kept between batches.

Predictions: per image a dict ``{boxes (K,4), scores (K,), classes (K,)}`` (``labels`` or
``category_ids`` also name the classes), or the TF object-detection tuple ``([num_detections,]
boxes (B,K,4), scores (B,K), classes (B,K))``. Labels: per image a dict ``{boxes (M,4),
category_ids (M,)[, iscrowd (M,)]}`` as :class:`lpot.data.coco.COCORaw` yields, or ``(boxes
(B,M,4), classes (B,M))`` with negative classes as padding. Boxes are in ``box_format``: ``xywh``
(COCO, default), ``xyxy`` or ``yxyx``; predictions and labels must share it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lpot.errors import ConfigError, DataError

CLASS_KEYS = ("classes", "category_ids", "labels", "detection_classes")
FORMATS = ("xywh", "xyxy", "yxyx")


def parse_thresholds(value: Any) -> np.ndarray:
    """``"0.5:0.05:0.95"`` (LPOT's form), one number, or a list of numbers in (0, 1]."""
    if isinstance(value, str) and ":" in value:
        try:
            start, step, stop = (float(v) for v in value.split(":"))
        except ValueError:
            raise ConfigError(f"metric cocomap: iou_thrs must be 'start:step:stop', got {value!r}") from None
        values = np.linspace(start, stop, int(np.round((stop - start) / step)) + 1)
    else:
        try:
            values = np.atleast_1d(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError):
            raise ConfigError(f"metric cocomap: iou_thrs must be numbers, got {value!r}") from None
    if values.size == 0 or np.any((values <= 0) | (values > 1)):
        raise ConfigError(f"metric cocomap: IoU thresholds must lie in (0, 1], got {value!r}")
    return values


def box_iou(dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes ``(D, G)``; for crowd ground truth the union is the detection's area."""
    lt = np.maximum(dets[:, None, :2], gts[None, :, :2])
    rb = np.minimum(dets[:, None, 2:], gts[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_d = (dets[:, 2:] - dets[:, :2]).prod(axis=1)
    area_g = (gts[:, 2:] - gts[:, :2]).prod(axis=1)
    union = np.where(crowd[None, :], area_d[:, None], area_d[:, None] + area_g[None, :] - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


class CocoMap:
    """Streaming COCO box mAP (``AP@[.5:.95]`` by default; ``iou_thrs: 0.5`` gives ``AP50``)."""

    higher_is_better = True

    def __init__(
        self,
        iou_thrs: Any = "0.5:0.05:0.95",
        map_points: int = 101,
        max_detections: int = 100,
        box_format: str = "xywh",
        anno_path: str | None = None,
    ) -> None:
        self.thresholds = parse_thresholds(iou_thrs)
        if map_points not in (101, 11):
            raise ConfigError(
                f"metric cocomap: map_points must be 101 (COCO) or 11 (VOC07), got {map_points!r}"
            )
        if not isinstance(max_detections, int) or max_detections < 1:
            raise ConfigError(
                f"metric cocomap: max_detections must be a positive integer, got {max_detections!r}"
            )
        if box_format not in FORMATS:
            raise ConfigError(
                f"metric cocomap: box_format must be one of {', '.join(FORMATS)}, got {box_format!r}"
            )
        self.recall_points = np.linspace(0.0, 1.0, map_points)
        self.max_detections, self.box_format = max_detections, box_format
        self.anno_path = anno_path  # accepted for LPOT configs; categories come from the labels
        self.reset()

    def reset(self) -> None:
        self.scores: dict[int, list[np.ndarray]] = defaultdict(list)
        self.matched: dict[int, list[np.ndarray]] = defaultdict(list)  # (T, D) bool per image
        self.ignored: dict[int, list[np.ndarray]] = defaultdict(list)  # matched to a crowd box
        self.positives: dict[int, int] = defaultdict(int)  # non-crowd ground-truth boxes
        self.images = 0

    def update(self, preds: Any, labels: Any) -> None:
        detections, truths = _detections(preds), _truths(labels)
        if len(detections) != len(truths):
            raise DataError(
                f"metric cocomap got detections for {len(detections)} images but labels for {len(truths)}"
            )
        for (d_boxes, d_scores, d_classes), (g_boxes, g_classes, g_crowd) in zip(detections, truths):
            self.images += 1
            d_boxes, g_boxes = self._xyxy(d_boxes), self._xyxy(g_boxes)
            for cat in np.union1d(d_classes, g_classes).astype(np.int64).tolist():
                g = g_classes == cat
                self.positives[cat] += int(np.sum(g & ~g_crowd))
                d = np.flatnonzero(d_classes == cat)
                if d.size == 0:
                    continue
                d = d[np.argsort(-d_scores[d], kind="mergesort")][: self.max_detections]
                matched, ignored = self._match(d_boxes[d], g_boxes[g], g_crowd[g])
                self.scores[cat].append(d_scores[d])
                self.matched[cat].append(matched)
                self.ignored[cat].append(ignored)

    def _xyxy(self, boxes: np.ndarray) -> np.ndarray:
        boxes = boxes.astype(np.float64).reshape(-1, 4)
        if self.box_format == "xywh":
            return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
        if self.box_format == "yxyx":
            return boxes[:, [1, 0, 3, 2]]
        return boxes

    def _match(self, dets: np.ndarray, gts: np.ndarray, crowd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(crowd, kind="mergesort")  # regular boxes first, as COCOeval sorts them
        gts, crowd = gts[order], crowd[order]
        ious = box_iou(dets, gts, crowd)
        matched = np.zeros((len(self.thresholds), len(dets)), dtype=bool)
        ignored = np.zeros_like(matched)
        for t, threshold in enumerate(self.thresholds):
            taken = np.zeros(len(gts), dtype=bool)
            for i in range(len(dets)):
                best, m = min(threshold, 1 - 1e-10), -1
                for j in range(len(gts)):
                    if taken[j] and not crowd[j]:
                        continue
                    if m > -1 and not crowd[m] and crowd[j]:
                        break  # a regular match beats any crowd box
                    if ious[i, j] < best:
                        continue
                    best, m = ious[i, j], j
                if m > -1:
                    matched[t, i], ignored[t, i], taken[m] = True, crowd[m], True
        return matched, ignored

    def result(self) -> float:
        aps = [ap for ap in (self._category_ap(c) for c in sorted(self.positives)) if ap is not None]
        if not aps:
            return float("nan")
        return float(np.mean(aps))

    def _category_ap(self, cat: int) -> float | None:
        """Mean over IoU thresholds of the interpolated precision at the recall points."""
        positives = self.positives[cat]
        if positives == 0:
            return None
        if not self.scores[cat]:
            return 0.0
        order = np.argsort(-np.concatenate(self.scores[cat]), kind="mergesort")
        matched = np.concatenate(self.matched[cat], axis=1)[:, order]
        ignored = np.concatenate(self.ignored[cat], axis=1)[:, order]
        tp = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
        fp = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
        recall = tp / positives
        precision = tp / (tp + fp + np.spacing(1))
        precision = np.flip(np.maximum.accumulate(np.flip(precision, axis=1), axis=1), axis=1)
        total = 0.0
        for t in range(len(self.thresholds)):
            idx = np.searchsorted(recall[t], self.recall_points, side="left")
            total += float(
                np.where(idx < recall.shape[1], precision[t, np.minimum(idx, recall.shape[1] - 1)], 0).sum()
            )
        return total / (len(self.thresholds) * len(self.recall_points))


def _get(item: Mapping[str, Any], keys: Sequence[str], what: str) -> np.ndarray:
    for key in keys:
        if key in item:
            return np.asarray(item[key])
    raise DataError(
        f"metric cocomap: {what} dict needs one of the keys {', '.join(keys)}; got {sorted(item)}"
    )


def _per_image(value: Any) -> list[Any] | None:
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Mapping):
        return list(value)
    return None


def _detections(preds: Any) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    items = _per_image(preds)
    if items is not None:
        return [
            (
                _get(p, ("boxes", "detection_boxes"), "prediction").reshape(-1, 4),
                _get(p, ("scores", "detection_scores"), "prediction").reshape(-1).astype(np.float64),
                _get(p, CLASS_KEYS, "prediction").reshape(-1).astype(np.int64),
            )
            for p in items
        ]
    if not isinstance(preds, (list, tuple)) or len(preds) not in (3, 4):
        raise DataError(
            "metric cocomap expects per-image dicts {boxes, scores, classes} or the tuple "
            f"([num_detections,] boxes, scores, classes); got {type(preds).__name__}"
        )
    arrays = [np.asarray(p) for p in preds]
    count = arrays.pop(0).reshape(-1).astype(np.int64) if len(arrays) == 4 else None
    boxes, scores, classes = arrays
    out = []
    for b in range(boxes.shape[0]):
        n = boxes.shape[1] if count is None else int(count[b])
        out.append(
            (boxes[b, :n].reshape(-1, 4), scores[b, :n].astype(np.float64), classes[b, :n].astype(np.int64))
        )
    return out


def _truths(labels: Any) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    if labels is None:
        raise DataError("metric cocomap needs ground-truth labels, but the evaluation dataloader yields None")
    items = _per_image(labels)
    if items is not None:
        out = []
        for item in items:
            classes = _get(item, CLASS_KEYS, "label").reshape(-1).astype(np.int64)
            crowd = np.asarray(item.get("iscrowd", np.zeros(len(classes))), dtype=bool).reshape(-1)
            out.append((_get(item, ("boxes", "bbox"), "label").reshape(-1, 4), classes, crowd))
        return out
    if not isinstance(labels, (list, tuple)) or len(labels) != 2:
        raise DataError(
            "metric cocomap expects per-image label dicts {boxes, category_ids} or the tuple (boxes, classes); "
            f"got {type(labels).__name__}"
        )
    boxes, classes = (np.asarray(v) for v in labels)
    out = []
    for b in range(boxes.shape[0]):
        keep = classes[b].reshape(-1) >= 0
        out.append(
            (
                boxes[b].reshape(-1, 4)[keep],
                classes[b].reshape(-1)[keep].astype(np.int64),
                np.zeros(int(keep.sum()), bool),
            )
        )
    return out
