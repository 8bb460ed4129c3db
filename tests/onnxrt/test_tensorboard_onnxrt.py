"""tensorboard: true writes event files TensorBoard reads: histograms and per-op error, read back here."""

from __future__ import annotations

import struct

import numpy as np
from tensorboardX.proto.event_pb2 import Event

import lpot


def _events(folder):
    """Events from TFRecord-framed event files: u64 length, u32 crc, payload, u32 crc."""
    out = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            payload = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            event = Event()
            event.ParseFromString(payload)
            out.append(event)
    return out


def _tags(events):
    return {value.tag: value for e in events for value in e.summary.value}


def test_tensorboard_histograms_and_errors(tmp_path, digits_data):
    model, (x_train, y_train, x_val, y_val) = digits_data
    cfg = {"tensorboard": True, "tuning": {"workspace": {"path": str(tmp_path)}}}
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x_train[:40], y_train[:40], 20),
        eval_func=lambda m: 1.0,
        config=cfg,
        progress=False,
    )
    fp32 = _tags(_events(tmp_path / "tensorboard" / "fp32"))
    tuned = _tags(_events(tmp_path / "tensorboard" / "tuned"))
    for op in ("conv1", "conv2", "conv3", "fc"):
        assert f"activation/{op}" in fp32 and f"activation/{op}" in tuned
        assert f"weight/{op}" in fp32 and f"weight/{op}" in tuned
        assert 0 <= tuned[f"error/{op}"].simple_value < 0.05
    conv1 = model.graph.initializer[0]
    assert conv1.name == "conv1.weight"
    assert fp32["weight/conv1"].histo.num == np.prod(conv1.dims)
    assert tuned["weight/conv1"].histo.num == np.prod(conv1.dims)  # the INT8 weight, dequantized
    assert fp32["activation/fc"].histo.num == 40 * 10  # 2 batches of 20 samples, 10 logits each
    assert result.status == "met"
