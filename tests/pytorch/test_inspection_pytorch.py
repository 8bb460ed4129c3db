"""Inspection through the torch backend: TensorBoard event files, the report's per-op errors, and
the multi-instance benchmark (pinned processes running the saved TorchScript)."""

from __future__ import annotations

import struct

import pytest

import lpot
from lpot import plugins

tensorboardX = pytest.importorskip("tensorboardX")


def _tags(folder):
    from tensorboardX.proto.event_pb2 import Event

    tags = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data, offset = path.read_bytes(), 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = Event()
            event.ParseFromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            tags.update({v.tag: v for v in event.summary.value})
    return tags


def test_tensorboard_histograms_of_fp32_and_int8_ops(tmp_path, digits):
    model, (x, y, _, _) = digits
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:40], y[:40], 20),
        eval_func=lambda m: 1.0,
        config={"tensorboard": True, "tuning": {"workspace": {"path": str(tmp_path)}}},
        progress=False,
    )
    fp32, tuned = _tags(tmp_path / "tensorboard" / "fp32"), _tags(tmp_path / "tensorboard" / "tuned")
    for op in ("conv1", "conv2", "conv3", "fc1", "fc2"):
        assert f"activation/{op}" in fp32 and f"activation/{op}" in tuned
        assert f"weight/{op}" in fp32 and f"weight/{op}" in tuned
        assert 0 <= tuned[f"error/{op}"].simple_value < 0.05
    assert tuned["weight/fc2"].histo.num == 64 * 10  # the INT8 weight, dequantized
    assert fp32["activation/fc2"].histo.num == 40 * 10
    assert result.status == "met"


def test_benchmark_with_two_pinned_instances(digits):
    model, (x, y, _, _) = digits
    backend = plugins.backend_by_name("pytorch")
    result = backend.benchmark(
        model,
        lpot.ArrayLoader(x[:32], y[:32], 8),
        num_instances=2,
        cores_per_instance=1,
        warmup=1,
        iterations=5,
    )
    assert result.num_instances == 2 and len(result.per_instance) == 2
    assert result.throughput > 0 and result.latency_ms > 0
