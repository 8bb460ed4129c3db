"""The command line over ONNX Runtime: the embedded demo and the multi-instance benchmark."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import numpy as np
import onnx


def _lpot(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lpot.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def _timed_lines(*args: str) -> tuple[int, list[tuple[float, str]], str]:
    """The command's exit code, each stdout line with the seconds since it started, and stderr."""
    start = time.monotonic()
    with subprocess.Popen(
        [sys.executable, "-m", "lpot.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
        stderr = proc.stderr.read()
        return proc.wait(timeout=300), lines, stderr


def test_demo_runs_end_to_end_and_says_its_first_result_within_a_minute(tmp_path):
    """Issue 21's first minutes: the headline within 2 s of starting, the tuned result within 60 s
    (on 2 shared cores), since the model ships with lpot-onnxrt instead of being trained."""
    code, timed, stderr = _timed_lines("demo", "--workspace", str(tmp_path / "ws"))
    assert code == 0, stderr
    lines = [line for _, line in timed]
    assert lines[0] == "lpot demo: tuning a conv net on scikit-learn's digits with ONNX Runtime …"
    assert timed[0][0] < 2.0, timed[0]
    assert not any("building the conv net" in line for line in lines)  # the shipped copy is used
    said = next(i for i, line in enumerate(lines) if line.startswith("tuned in "))
    table = next(i for i, line in enumerate(lines) if line.startswith("latency at batch 1 "))
    assert said < table and "accuracy FP32 0.9600 -> tuned" in lines[said]  # before the slow part
    assert timed[said][0] < 60.0, timed[said]
    stdout = "\n".join(lines)
    for needle in (
        "tuned vs FP32",
        "latency at batch 50 ",
        "accuracy",
        "status: met",
        "calibration passes: 1",
    ):
        assert needle in stdout
    rows = {line.split("  ")[0]: line for line in lines[table : table + 4]}
    for name in ("latency at batch 1", "latency at batch 50"):  # units, and the ratio said as it goes
        said_as = re.search(
            r"([\d.]+) ms +([\d.]+) ms +(\d+\.\d\dx (faster|slower)|same as FP32)$", rows[name]
        )
        assert said_as, rows[name]
        if said_as[3] == "same as FP32":  # ratio_phrase's word for figures within 0.5 % of each other
            fp32, tuned = float(said_as[1]), float(said_as[2])
            assert abs(fp32 - tuned) <= 0.005 * max(fp32, tuned) + 0.01, rows[name]
    assert re.search(r"\d+ KB +\d+ KB +\d\.\d\dx smaller$", rows["size"]), rows["size"]
    assert re.search(r"^accuracy +0\.9600 +0\.\d{4} +[-+]0\.\d{4}$", rows["accuracy"]), rows["accuracy"]
    assert (tmp_path / "ws" / "best_model" / "model.onnx").exists()
    report = _lpot("report", str(tmp_path / "ws"), "--format", "text")
    assert report.returncode == 0 and "backend: onnxrt" in report.stdout


def test_benchmark_fp32_and_tuned_side_by_side(tmp_path, digits_data):
    model, (x_train, _, x_val, _) = digits_data
    onnx.save(model, tmp_path / "m.onnx")
    np.savez(tmp_path / "d.npz", x=x_val[:16])
    import lpot

    tuned = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x_train[:40], None, 20),
        eval_func=lambda m: 1.0,
        config={"tuning": {"workspace": {"path": str(tmp_path / "ws")}}},
        progress=False,
    )
    onnx.save(tuned.model, tmp_path / "t.onnx")
    out = _lpot(
        "benchmark",
        "--model",
        str(tmp_path / "m.onnx"),
        "--tuned",
        str(tmp_path / "t.onnx"),
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
    table = [line.split() for line in out.stdout.splitlines()]
    rows = {r[0]: r for r in table if r[:1] in (["fp32"], ["tuned"]) and r[1].isdigit()}
    assert set(rows) == {"fp32", "tuned"}
    for row in rows.values():
        instances, cores, batch, p50, p90, p99, throughput, per_instance = row[1:]
        assert len(per_instance.split("/")) == 2 and all(float(v) > 0 for v in per_instance.split("/"))
        assert (instances, cores, batch) == ("2", "1", "1")
        assert 0 < float(p50) <= float(p90) <= float(p99) and float(throughput) > 0
    assert "tuned vs FP32: latency" in out.stdout


def test_benchmark_refuses_more_cores_than_the_machine_has(tmp_path, digits_data):
    onnx.save(digits_data[0], tmp_path / "m.onnx")
    np.savez(tmp_path / "d.npz", x=digits_data[1][2][:4])
    out = _lpot(
        "benchmark",
        "--model",
        str(tmp_path / "m.onnx"),
        "--data",
        str(tmp_path / "d.npz"),
        "--num-instances",
        "64",
        "--cores-per-instance",
        "4",
    )
    assert out.returncode == 2
    assert "64 instances x 4 cores = 256 cores, but this process can use" in out.stderr
