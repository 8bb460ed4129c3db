"""What a newcomer sees: tuning without a YAML, flags for the common knobs, ``--version``, and a
summary a person can read in a 100-column terminal (units, ratios said the way they go)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import toy_job
from lpot.recipe import FP32_OP, OpKey, Recipe
from lpot.report.figures import accuracy_digits, quantity, ratio_phrase
from lpot.report.text import failures, precision_table
from lpot.trial import Trial
from lpot_toy.engine import save_file


def _lpot(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "lpot", *args], capture_output=True, text=True, cwd=cwd, timeout=180, env=env
    )


@pytest.fixture
def files(tmp_path):
    model = save_file(toy_job.make_model(), tmp_path / "toy.mlp.npz")
    x, y = toy_job.make_data(1)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    return model, tmp_path / "data.npz"


def test_tuning_without_a_yaml_uses_the_defaults_and_prints_a_readable_summary(tmp_path, files):
    model, data = files
    out = _lpot("tune", "--model", str(model), "--data", str(data), "--quiet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert (tmp_path / "lpot_workspace" / "history.sqlite").exists()  # the default workspace
    assert "status: met" in text and "relative 0.01" in text
    latency = next(line for line in text.splitlines() if line.startswith("performance at batch 32"))
    assert re.search(r"FP32 [\d.]+ ms -> tuned [\d.]+ ms \([\d.]+x (faster|slower)\)", latency), latency
    assert "better" not in latency
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "op type  INT8  BF16  FP32" in text and "Dense" in text  # the per-op-type precision table


def test_flags_override_the_common_knobs(tmp_path, files):
    model, data = files
    out = _lpot(
        "tune",
        "--model", str(model),
        "--data", str(data),
        "--accuracy-loss", "2%",
        "--strategy", "sensitivity",
        "--max-trials", "3",
        "--objective", "model_size",
        "--workspace", str(tmp_path / "ws"),
        "--quiet",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "relative 0.02" in out.stdout and "model_size:" in out.stdout
    assert re.search(r"model_size: FP32 [\d.]+ KB -> tuned [\d.]+ KB \([\d.]+x smaller\)", out.stdout), (
        out.stdout
    )
    report = _lpot("report", str(tmp_path / "ws"), "--format", "text")
    assert "strategy: sensitivity" in report.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--accuracy-loss", "150%"], "lpot: error: --accuracy-loss: expected a fraction"),
        (
            ["--accuracy-loss", "1%", "--absolute-loss", "0.1"],
            "give --accuracy-loss or --absolute-loss, not both",
        ),
        (["--strategy", "basik"], "did you mean 'basic'"),
    ],
    ids=["loss", "both", "strategy"],
)
def test_bad_flags_are_answered_in_flag_names(tmp_path, files, args, message):
    model, data = files
    out = _lpot("tune", "--model", str(model), "--data", str(data), *args, cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1


def test_no_evaluation_data_says_which_flag_gives_it(tmp_path, files):
    model, _ = files
    out = _lpot("tune", "--model", str(model), cwd=tmp_path)
    assert out.returncode == 2
    assert "give --data (or --eval-data), or declare evaluation.accuracy.dataloader" in out.stderr


def test_version_lists_core_and_backends():
    out = _lpot("--version")
    assert out.returncode == 0
    assert re.match(r"lpot-core \d+\.\d+", out.stdout) and "backend toy: lpot-toy 0.1.0" in out.stdout


def test_figures_have_units_and_ratios_read_the_way_they_go():
    assert quantity(1.234, "ms") == "1.23 ms" and quantity(3_500_000, "bytes") == "3.34 MB"
    assert quantity(1234.0, "samples/s") == "1,234 samples/s"
    assert ratio_phrase(10.0, 5.0, "ms", False) == "2.00x faster"
    assert ratio_phrase(5.0, 7.0, "ms", False) == "1.40x slower"  # never "0.71x faster"
    assert ratio_phrase(100.0, 25.0, "bytes", False) == "4.00x smaller"
    assert ratio_phrase(100.0, 150.0, "samples/s", True) == "1.50x faster"
    # 0.97349 misses a goal of 0.9735: four digits would print both as 0.9735
    assert accuracy_digits([0.97349, 0.99], 0.9735) == 5


def test_a_failed_trial_is_said_once_in_full_below_the_table():
    long = "QuantizationError: " + "x" * 300
    trials = [
        Trial(index=1, recipe=Recipe(), label="default", accuracy=0.9, met=True),
        Trial(index=2, recipe=Recipe(), label="fallback conv1", accuracy=float("nan"), met=False,
              status="failed", error=long, details={"traceback": "Traceback (most recent call last):\n  boom"}),
    ]  # fmt: skip
    text = failures(trials)
    assert text.startswith("trial 2 (fallback conv1): QuantizationError:") and "x" * 50 in text
    assert text.count("trial 2") == 1 and "Traceback" not in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "Traceback (most recent call last)" in failures(trials, traceback=True)


def test_precision_table_counts_ops_per_type():
    int8 = Recipe(ops={OpKey("a", "Conv"): FP32_OP})
    table = precision_table(int8)
    assert "Conv" in table and "total" in table


def _yaml_with_a_dataloader_but_no_metric(tmp_path, data):
    path = tmp_path / "no_metric.yaml"
    loader = f"{{batch_size: 50, dataset: {{numpy: {{data: {data}}}}}}}"
    path.write_text(
        f"quantization: {{calibration: {{dataloader: {loader}}}}}\n"
        f"evaluation: {{accuracy: {{dataloader: {loader}}}}}\n"
        f"tuning: {{workspace: {{path: {tmp_path / 'ws'}}}, exit_policy: {{max_trials: 2}}}}\n"
    )
    return path


def test_a_config_without_a_metric_is_told_to_give_metric(tmp_path, files):
    model, data = files
    config = _yaml_with_a_dataloader_but_no_metric(tmp_path, data)
    out = _lpot("tune", str(config), "--model", str(model), "--quiet", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "give --metric (e.g. --metric topk), or declare evaluation.accuracy.metric" in out.stderr
    assert "eval_func" not in out.stderr and "--data" not in out.stderr  # the data is there
    fixed = _lpot("tune", str(config), "--model", str(model), "--metric", "topk", "--quiet", cwd=tmp_path)
    assert fixed.returncode == 0 and "status: met" in fixed.stdout, fixed.stderr


def test_benchmark_without_data_says_which_flag_gives_it(tmp_path, files):
    model, _ = files
    out = _lpot("benchmark", "--model", str(model), cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "nothing to benchmark on: give --data" in out.stderr and "pass a dataloader" not in out.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--num-instances", "999"], "--num-instances 999: 999 instances on "),
        (
            ["--num-instances", "64", "--cores-per-instance", "4"],
            "--num-instances 64 with --cores-per-instance 4: 64 instances x 4 cores = 256 cores",
        ),
        (["--num-instances", "0"], "--num-instances 0: expected an integer >= 1"),
        (["--cores-per-instance", "0"], "--cores-per-instance 0: expected an integer >= 1"),
    ],
    ids=["instances", "instances-x-cores", "zero-instances", "zero-cores"],
)
def test_too_many_instances_are_said_in_flag_names(tmp_path, files, flags, message):
    model, data = files
    out = _lpot("benchmark", "--model", str(model), "--data", str(data), *flags, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr and "evaluation.performance" not in out.stderr


def test_the_python_call_is_answered_in_its_argument_names(files):
    import lpot
    from lpot.errors import ConfigError

    model, data = files
    with pytest.raises(ConfigError, match=r"^num_instances 999: 999 instances on "):
        lpot.benchmark(str(model), lpot.ArrayLoader(np.zeros((4, 16), np.float32)), num_instances=999)


def test_report_says_where_its_plotly_copy_is_and_inline_is_html_only(tmp_path, files):
    model, data = files
    tuned = _lpot("tune", "--model", str(model), "--data", str(data), "--quiet", cwd=tmp_path)
    assert tuned.returncode == 0, tuned.stderr
    ws = tmp_path / "lpot_workspace"
    out = _lpot("report", str(ws))
    assert out.returncode == 0 and "plotly.js copy beside it" in out.stdout, out.stderr
    assert len(list(ws.glob("plotly-*.min.js"))) == 1
    one = _lpot("report", str(ws), "--inline", "--output", str(tmp_path / "one.html"))
    assert one.returncode == 0 and "beside it" not in one.stdout
    assert not list(tmp_path.glob("plotly-*.min.js"))  # inlined: nothing beside it
    md = _lpot("report", str(ws), "--format", "md", "--inline")
    assert md.returncode == 2 and md.stderr.count("\n") == 1
    assert "--inline: only the HTML report has scripts to inline, not --format md" in md.stderr


def test_benchmark_table_says_a_slower_tuned_model_is_slower():
    """`lpot benchmark --tuned` printed "0.71x faster" for a slower model (issue 21)."""
    from lpot.benchmarking import BenchmarkComparison
    from lpot.instances import BenchmarkResult

    def result(ms):
        return BenchmarkResult(
            latency_ms=ms, latency_p90_ms=ms, throughput=1000 / ms, batch_size=1, iterations=5
        )

    slower = BenchmarkComparison({"fp32": result(5.0), "tuned": result(7.0)}).table()
    assert "tuned vs FP32: latency 1.40x slower, throughput 1.40x slower" in slower
    faster = BenchmarkComparison({"fp32": result(10.0), "tuned": result(5.0)}).table()
    assert "tuned vs FP32: latency 2.00x faster, throughput 2.00x faster" in faster
