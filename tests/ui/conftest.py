from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # chromium.py

from onnx_mlp import mlp  # noqa: E402

UPLOAD_LIMIT_MB = 4
WIDTHS = (64, 512, 512, 512, 10)  # big enough that a trial takes a visible fraction of a second
SAMPLES = 8192


@dataclass(frozen=True)
class Inputs:
    model: Path
    data: Path
    too_big: Path


@pytest.fixture(scope="session")
def inputs(tmp_path_factory) -> Inputs:
    """A model, its data (labels: FP32's own predictions) and an .npz over the upload limit."""
    import onnx
    import onnxruntime as ort

    folder = tmp_path_factory.mktemp("inputs")
    model = mlp(WIDTHS)
    onnx.save(model, folder / "mlp.onnx")
    x = np.random.default_rng(1).standard_normal((SAMPLES, WIDTHS[0])).astype(np.float32)
    y = ort.InferenceSession(str(folder / "mlp.onnx")).run(None, {"x": x})[0].argmax(1)
    np.savez(folder / "digits.npz", x=x, y=y)
    big = np.zeros((UPLOAD_LIMIT_MB * 2**20 * 5 // 16,), np.float32)  # 1.25 x the limit
    np.savez(folder / "too_big.npz", x=big)
    return Inputs(folder / "mlp.onnx", folder / "digits.npz", folder / "too_big.npz")


@dataclass(frozen=True)
class Server:
    url: str  # what lpot ui printed, with the token
    base: str
    token: str
    runs: Path
    process: subprocess.Popen


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``lpot ui RUNS --port 0`` as a user starts it; its first line is the address with the token."""
    runs = tmp_path_factory.mktemp("runs")
    log = (runs.parent / f"{runs.name}-server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lpot",
            "ui",
            str(runs),
            "--port",
            "0",
            "--no-browser",
            "--max-upload-mb",
            str(UPLOAD_LIMIT_MB),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    first = process.stdout.readline().strip()
    assert first.startswith("lpot ui: http://127.0.0.1:"), (first, Path(log.name).read_text())
    url = first.removeprefix("lpot ui: ")
    base, _, query = url.partition("/?")
    yield Server(url, base, query.removeprefix("token="), runs, process)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
