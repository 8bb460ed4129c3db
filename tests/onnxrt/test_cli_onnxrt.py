"""The command line over ONNX Runtime: the embedded demo and the multi-instance benchmark."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx


def _lpot(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lpot.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_demo_runs_end_to_end(tmp_path):
    out = _lpot("demo", "--quiet", "--workspace", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stderr
    for needle in (
        "latency batch 1 (ms)",
        "size (bytes)",
        "accuracy",
        "status: met",
        "calibration passes: 1",
    ):
        assert needle in out.stdout
    assert (tmp_path / "ws" / "best_model" / "model.onnx").exists()
    report = _lpot("report", str(tmp_path / "ws"), "--format", "text")
    assert report.returncode == 0 and "backend: onnxrt" in report.stdout


def test_benchmark_command_with_instances(tmp_path, digits_data):
    model, (_, _, x_val, _) = digits_data
    onnx.save(model, tmp_path / "m.onnx")
    np.savez(tmp_path / "d.npz", x=x_val[:16])
    out = _lpot(
        "benchmark",
        "--model",
        str(tmp_path / "m.onnx"),
        "--data",
        str(tmp_path / "d.npz"),
        "--num-instances",
        "2",
        "--cores-per-instance",
        "1",
        "--iterations",
        "5",
    )
    assert out.returncode == 0, out.stderr
    row = out.stdout.strip().splitlines()[-1].split()
    assert row[0] == "2" and row[1] == "1" and float(row[3]) > 0 and float(row[5]) > 0
