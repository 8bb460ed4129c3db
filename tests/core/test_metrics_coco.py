"""COCO box mAP: hand-computed cases, input layouts, and pycocotools when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from lpot.errors import ConfigError, DataError
from lpot.metrics import create_metric


def _label(boxes, cats, crowd=None):
    out = {"boxes": np.asarray(boxes, np.float32).reshape(-1, 4), "category_ids": np.asarray(cats, np.int64)}
    if crowd is not None:
        out["iscrowd"] = np.asarray(crowd)
    return out


def _pred(boxes, scores, classes):
    return {
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "scores": np.asarray(scores),
        "classes": np.asarray(classes),
    }


def test_perfect_detections_score_one_and_misses_zero():
    metric = create_metric("COCOmAP")
    label = _label([[10, 10, 20, 20], [50, 50, 10, 10]], [1, 2])
    metric.update([_pred([[10, 10, 20, 20], [50, 50, 10, 10]], [0.9, 0.8], [1, 2])], [label])
    assert metric.result() == pytest.approx(1.0)
    metric.reset()
    metric.update([_pred([[0, 0, 5, 5]], [0.9], [1])], [label])
    assert metric.result() == 0.0


def test_hand_computed_precision_recall_curve():
    # one category, 2 ground-truth boxes; detections by score: hit, miss, hit.
    # recall 0.5 at precision 1, recall 1 at precision 2/3: 51 recall points (0..0.5) read precision 1,
    # 50 points (0.51..1) read 2/3 -> AP = (51 + 50 * 2/3) / 101 at every IoU threshold.
    gts = _label([[0, 0, 10, 10], [100, 100, 10, 10]], [3, 3])
    preds = _pred([[0, 0, 10, 10], [40, 40, 10, 10], [100, 100, 10, 10]], [0.9, 0.8, 0.7], [3, 3, 3])
    metric = create_metric("cocomap")
    metric.update([preds], [gts])
    assert metric.result() == pytest.approx((51 + 50 * 2 / 3) / 101)


def test_iou_threshold_decides_a_match():
    # the detection overlaps its box with IoU 0.6: a match for AP50, a miss above 0.6
    gts = _label([[0, 0, 10, 10]], [1])
    preds = _pred([[0, 0, 10, 6]], [0.9], [1])
    ap50 = create_metric("cocomap", {"iou_thrs": 0.5})
    ap50.update([preds], [gts])
    assert ap50.result() == pytest.approx(1.0)
    full = create_metric("cocomap")
    full.update([preds], [gts])
    assert full.result() == pytest.approx(3 / 10)  # thresholds 0.5, 0.55, 0.6 of ten


def test_tf_tuple_layout_with_padding_and_num_detections():
    # (num_detections, boxes, scores, classes) in yxyx; the second image has one real detection
    boxes = np.array([[[0, 0, 10, 10], [0, 0, 0, 0]], [[20, 20, 30, 30], [0, 0, 0, 0]]], np.float32)
    preds = (np.array([1, 1]), boxes, np.array([[0.9, 0.0], [0.8, 0.0]]), np.array([[1, 0], [1, 0]]))
    labels = (
        np.array([[[0, 0, 10, 10], [0, 0, 0, 0]], [[20, 20, 30, 30], [0, 0, 0, 0]]], np.float32),
        np.array([[1, -1], [1, -1]]),
    )
    metric = create_metric("cocomap", {"box_format": "yxyx"})
    metric.update(preds, labels)
    assert metric.result() == pytest.approx(1.0)


def test_crowd_boxes_are_ignored():
    gts = _label([[0, 0, 10, 10], [50, 50, 40, 40]], [1, 1], crowd=[0, 1])
    preds = _pred([[0, 0, 10, 10], [55, 55, 10, 10], [60, 60, 10, 10]], [0.9, 0.95, 0.85], [1, 1, 1])
    metric = create_metric("cocomap")
    metric.update([preds], [gts])
    assert metric.result() == pytest.approx(1.0)  # detections inside the crowd box count as neither


def test_bad_parameters_and_inputs():
    with pytest.raises(ConfigError, match="start:step:stop"):
        create_metric("cocomap", {"iou_thrs": "0.5:x:0.9"})
    with pytest.raises(ConfigError, match="box_format"):
        create_metric("cocomap", {"box_format": "cxcywh"})
    with pytest.raises(DataError, match="needs ground-truth"):
        create_metric("cocomap").update([_pred([[0, 0, 1, 1]], [1.0], [1])], None)


def _random_scene(rng, n_images=12, n_cats=3):
    images, preds = [], []
    for _ in range(n_images):
        m = rng.integers(1, 6)
        xy = rng.uniform(0, 200, size=(m, 2))
        wh = rng.uniform(10, 60, size=(m, 2))
        gt = np.c_[xy, wh]
        cats = rng.integers(1, n_cats + 1, size=m)
        crowd = (rng.random(m) < 0.1).astype(int)
        k = rng.integers(0, 9)
        src = rng.integers(0, m, size=k)
        det = gt[src] + rng.normal(0, 6, size=(k, 4)) * [1, 1, 0.5, 0.5]
        det[:, 2:] = np.abs(det[:, 2:]) + 1
        dcats = np.where(rng.random(k) < 0.85, cats[src], rng.integers(1, n_cats + 1, size=k))
        images.append(_label(gt, cats, crowd))
        preds.append(_pred(det, rng.random(k), dcats))
    return images, preds


def test_matches_pycocotools_on_random_scenes():
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(7)
    labels, preds = _random_scene(rng)
    gt = COCO()
    anns, dets = [], []
    for i, (lab, pred) in enumerate(zip(labels, preds)):
        for j, (box, cat) in enumerate(zip(lab["boxes"].tolist(), lab["category_ids"].tolist())):
            crowd = int(lab["iscrowd"][j])
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": cat,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": crowd,
                }
            )
        for box, score, cat in zip(pred["boxes"].tolist(), pred["scores"].tolist(), pred["classes"].tolist()):
            dets.append({"image_id": i, "category_id": int(cat), "bbox": box, "score": score})
    gt.dataset = {
        "images": [{"id": i} for i in range(len(labels))],
        "annotations": anns,
        "categories": [{"id": c} for c in (1, 2, 3)],
    }
    gt.createIndex()
    evaluation = COCOeval(gt, gt.loadRes(dets), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    metric = create_metric("cocomap")
    for start in range(0, len(labels), 5):
        metric.update(preds[start : start + 5], labels[start : start + 5])
    assert metric.result() == pytest.approx(evaluation.stats[0], abs=1e-9)
