"""Datasets from config names, on small files generated here, against hand-computed expectations."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from lpot.data.builder import build_dataloader, build_dataset
from lpot.errors import DataError


def _png(path, value, size=(6, 4), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    array = np.full((size[1], size[0], channels), value, np.uint8).squeeze()
    Image.fromarray(array).save(path)


@pytest.fixture
def image_folder(tmp_path):
    for label, name in enumerate(["cat", "dog"]):
        for i in range(3):
            _png(tmp_path / "folder" / name / f"{i}.png", 10 * label + i)
    return tmp_path / "folder"


def test_image_folder_labels_by_sorted_class_and_decodes_lazily(image_folder):
    ds = build_dataset({"ImageFolder": {"root": str(image_folder)}}, "dataset")
    assert len(ds) == 6 and ds.classes == ["cat", "dog"]
    image, label = ds[4]
    assert image.shape == (4, 6, 3) and image.dtype == np.uint8
    assert label == 1 and image[0, 0, 0] == 11


def test_missing_root_names_key_path_and_path(tmp_path):
    where = "evaluation.accuracy.dataloader"
    with pytest.raises(DataError) as info:
        build_dataloader({"dataset": {"ImageFolder": {"root": str(tmp_path / "nowhere")}}}, where=where)
    assert (
        str(info.value) == f"{where}.dataset.ImageFolder.root: {str(tmp_path / 'nowhere')!r} does not exist"
    )


def test_imagenet_raw_and_imagenet_with_label_lists(tmp_path):
    for i in range(3):
        _png(tmp_path / "raw" / f"img{i}.png", i)
    (tmp_path / "raw" / "list.txt").write_text("img0.png 5\nimg1.png 7\n\nimg2.png 9\n")
    raw = build_dataset(
        {
            "ImagenetRaw": {
                "data_path": str(tmp_path / "raw"),
                "image_list": str(tmp_path / "raw" / "list.txt"),
            }
        },
        "d",
    )
    assert [raw[i][1] for i in range(3)] == [5, 7, 9]
    (tmp_path / "inet" / "val").mkdir(parents=True)
    _png(tmp_path / "inet" / "val" / "a.png", 1)
    (tmp_path / "inet" / "val.txt").write_text("a.png 3\n")
    inet = build_dataset({"Imagenet": {"root": str(tmp_path / "inet")}}, "d")
    assert len(inet) == 1 and inet[0][1] == 3
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "labels.txt").write_text("a.png three\n")
    with pytest.raises(DataError, match=r"labels.txt:1: expected '<image file> <integer label>'"):
        build_dataset({"ImageRecord": {"root": str(tmp_path / "bad")}}, "d")


def test_image_record_tfrecord_shards_need_tensorflow(tmp_path):
    (tmp_path / "validation-00000-of-00128").write_bytes(b"\0")
    with pytest.raises(DataError, match="TFRecord.*pip install lpot-tensorflow"):
        build_dataset({"ImageRecord": {"root": str(tmp_path)}}, "d")


def test_dummy_is_deterministic_in_range():
    ds = build_dataset({"dummy": {"shape": [5, 2, 3], "low": 0, "high": 1}}, "d", seed=7)
    again = build_dataset({"dummy": {"shape": [5, 2, 3], "low": 0, "high": 1}}, "d", seed=7)
    assert len(ds) == 5
    x, y = ds[3]
    assert x.shape == (2, 3) and x.dtype == np.float32 and y == 0 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(x, again[3][0])
    ints = build_dataset({"dummy": {"shape": [2, 4], "low": -128, "high": 127, "dtype": "int8"}}, "d")
    assert ints[0][0].dtype == np.int8


def test_numpy_npz_and_memory_mapped_npy(tmp_path):
    x, y = np.arange(24, dtype=np.float32).reshape(6, 4), np.arange(6)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    npz = build_dataset({"numpy": {"data": str(tmp_path / "d.npz")}}, "d")
    npy = build_dataset({"numpy": {"inputs": str(tmp_path / "x.npy")}}, "d")
    np.testing.assert_array_equal(npz[2][0], x[2])
    assert npz[2][1] == 2 and npy[5][1] is None
    assert isinstance(npy.x, np.memmap)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="not a plain .npy"):
        build_dataset({"numpy": {"inputs": str(tmp_path / "obj.npy")}}, "d")


def test_csv_with_named_label_column(tmp_path):
    (tmp_path / "t.csv").write_text("a,label,b\n1.5,0,2\n3,1,4.25\n")
    ds = build_dataset({"CSV": {"path": str(tmp_path / "t.csv"), "label_column": "label"}}, "d")
    np.testing.assert_array_equal(ds[1][0], np.array([3, 4.25], np.float32))
    assert ds[1][1] == 1 and ds.y.dtype == np.int64


def test_sklearn_sets_split_deterministically():
    pytest.importorskip("sklearn")
    train = build_dataset({"digits": {"split": "train", "image": True}}, "d", seed=3)
    val = build_dataset({"digits": {"split": "val", "image": True}}, "d", seed=3)
    assert len(train) + len(val) == 1797
    assert train[0][0].shape == (8, 8, 1)
    assert len(build_dataset({"iris": {}}, "d")) == 150
    assert len(build_dataset("wine", "d")) == 178


def test_coco_annotations(tmp_path):
    _png(tmp_path / "coco" / "1.png", 5, size=(8, 8))
    _png(tmp_path / "coco" / "2.png", 6, size=(8, 8))
    ann = {
        "images": [{"id": 1, "file_name": "1.png"}, {"id": 2, "file_name": "2.png"}],
        "annotations": [
            {"image_id": 1, "bbox": [1, 2, 3, 4], "category_id": 7},
            {"image_id": 1, "bbox": [0, 0, 2, 2], "category_id": 1},
        ],
    }
    (tmp_path / "ann.json").write_text(json.dumps(ann))
    ds = build_dataset(
        {"COCORaw": {"root": str(tmp_path / "coco"), "annotation_file": str(tmp_path / "ann.json")}}, "d"
    )
    image, label = ds[0]
    assert image.shape == (8, 8, 3) and label["image_id"] == 1
    np.testing.assert_array_equal(label["boxes"], [[1, 2, 3, 4], [0, 0, 2, 2]])
    np.testing.assert_array_equal(label["category_ids"], [7, 1])
    assert ds[1][1]["boxes"].shape == (0, 4)
    loader = build_dataloader(
        {
            "batch_size": 2,
            "dataset": {
                "COCORaw": {"root": str(tmp_path / "coco"), "annotation_file": str(tmp_path / "ann.json")}
            },
        },
        where="d",
    )
    images, labels = next(iter(loader))
    assert images.shape == (2, 8, 8, 3) and isinstance(labels, list) and labels[1]["image_id"] == 2


def test_loader_batches_last_batch_and_shuffle(image_folder):
    section = {"batch_size": 4, "dataset": {"ImageFolder": {"root": str(image_folder)}}}
    keep = list(build_dataloader(section, where="d"))
    assert [len(b[0]) for b in keep] == [4, 2]
    np.testing.assert_array_equal(keep[0][1], [0, 0, 0, 1])
    drop = list(build_dataloader({**section, "last_batch": "rollover"}, where="d"))
    assert [len(b[0]) for b in drop] == [4]
    a = [b[1].tolist() for b in build_dataloader({**section, "shuffle": True}, where="d", seed=1)]
    b = [b[1].tolist() for b in build_dataloader({**section, "shuffle": True}, where="d", seed=1)]
    assert a == b and sorted(sum(a, [])) == [0, 0, 0, 1, 1, 1]


def test_loader_streams_only_what_a_batch_needs():
    class Counting:
        def __init__(self):
            self.reads = 0

        def __len__(self):
            return 10_000

        def __getitem__(self, i):
            self.reads += 1
            return np.zeros(3, np.float32), i

    from lpot.data.builder import DatasetLoader

    ds = Counting()
    next(iter(DatasetLoader(ds, batch_size=8)))
    assert ds.reads == 8


def test_samples_of_different_shapes_ask_for_a_resize(tmp_path):
    _png(tmp_path / "f" / "a" / "1.png", 1, size=(4, 4))
    _png(tmp_path / "f" / "a" / "2.png", 1, size=(5, 4))
    loader = build_dataloader(
        {"batch_size": 2, "dataset": {"ImageFolder": {"root": str(tmp_path / "f")}}}, where="d"
    )
    with pytest.raises(DataError, match="different shapes.*Resize"):
        next(iter(loader))


@pytest.mark.parametrize("name", ["resnet50_onnx_qlinear.yaml", "resnet18_pytorch.yaml"])
def test_original_style_configs_run_on_generated_data(tmp_path, name):
    """LPOT 1.x example files, only their data paths pointed at images generated here."""
    from pathlib import Path

    from lpot.config import load_config

    for i in range(2):
        _png(tmp_path / "imgs" / f"{i}.png", 200, size=(300, 260))
        _png(tmp_path / "tree" / f"class{i}" / "a.png", 100, size=(300, 260))
    (tmp_path / "imgs" / "labels.txt").write_text("0.png 1\n1.png 2\n")
    text = (Path(__file__).parent / "lpot1_configs" / name).read_text()
    text = text.replace("/path/to/calibration/dataset", str(tmp_path / "imgs"))
    text = text.replace("/path/to/calibration/label", str(tmp_path / "imgs" / "labels.txt"))
    text = text.replace(
        "/path/to/evaluation/dataset", str(tmp_path / ("tree" if "pytorch" in name else "imgs"))
    )
    text = text.replace("/path/to/evaluation/label", str(tmp_path / "imgs" / "labels.txt"))
    (tmp_path / name).write_text(text)
    cfg = load_config(tmp_path / name)
    section = (
        cfg.quantization.calibration.dataloader if "onnx" in name else cfg.evaluation.accuracy.dataloader
    )
    loader = build_dataloader(section, where="dataloader")
    images, labels = next(iter(loader))
    assert images.shape[1:] == (3, 224, 224) and images.dtype == np.float32
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    value = 200 / 255 if "onnx" in name else 100 / 255
    np.testing.assert_allclose(images[0, :, 100, 100], (value - mean) / std, rtol=1e-4)
    assert labels.tolist() == ([1] if "onnx" in name else [0, 1])
