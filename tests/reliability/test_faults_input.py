"""Hostile or mistaken input: configs, data, metrics, flags and reports. Each is refused with one
precise error (CLI: one line, exit 2) quickly, or warned about with the reason."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from faults import UNWRITABLE, one_line_error, toy_files, tune_args
from faults import lpot as run_lpot

import lpot
from lpot.errors import ConfigError, DataError, PluginError


def _toy():
    from lpot_toy.known_answer import Accuracy, known_answer_model, loaders

    calib, evals = loaders()
    return known_answer_model(4, ("fc3",)), calib, evals, Accuracy()


def _config(tmp_path: Path, **sections) -> dict:
    tuning = {"workspace": {"path": str(tmp_path / "ws")}, **sections.pop("tuning", {})}
    return {"tuning": tuning, **sections}


# configs: size, depth, aliases (§5, §6) ---------------------------------------------------------
def _refused_quickly(tmp_path: Path, text: str, *fragments: str) -> None:
    conf = tmp_path / "hostile.yaml"
    conf.write_text(text)
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        lpot.load_config(str(conf))
    assert time.monotonic() - t0 < 5, "the loader worked on it before refusing"
    for fragment in (str(conf), *fragments):
        assert fragment in str(caught.value), caught.value
    files = toy_files(tmp_path / "files")
    one_line_error(
        run_lpot("tune", str(conf), "--model", str(files["model"]), "--data", str(files["data"])), *fragments
    )


def test_yaml_nested_5000_deep(tmp_path):
    _refused_quickly(tmp_path, "graph_optimization: " + "[" * 5000 + "]" * 5000 + "\n", "nested deeper than")


def test_yaml_mappings_nested_5000_deep(tmp_path):
    _refused_quickly(
        tmp_path, "tuning:\n  diagnosis: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", "nested deeper than"
    )


def _alias_bomb(where: str) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    body = "\n".join("    " + line for line in lines)
    return f"{where}\n{body}\n"


@pytest.mark.parametrize("section", ["graph_optimization", "tuning.diagnosis"])
def test_yaml_alias_bomb(tmp_path, section):
    where = (
        "graph_optimization:\n  bomb:"
        if section == "graph_optimization"
        else "tuning:\n  diagnosis:\n   bomb:"
    )
    text = _alias_bomb(where).replace("\n    ", "\n     " if section != "graph_optimization" else "\n    ")
    _refused_quickly(tmp_path, text, "aliases")


def test_a_50_mib_value(tmp_path):
    _refused_quickly(tmp_path, "model: {name: " + "x" * (50 * 2**20) + "}\n", "MiB")


def test_a_python_config_deep_or_shared_is_bounded():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ConfigError, match="nested deeper than"):
        lpot.load_config({"graph_optimization": deep})
    shared: list = ["lol"] * 9
    for _ in range(9):
        shared = [shared] * 9  # 9**10 leaves once expanded, 90 objects in memory
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="more than"):
        lpot.load_config({"graph_optimization": {"bomb": shared}})
    assert time.monotonic() - t0 < 5


def test_workers_above_the_usable_cores(tmp_path):
    import os

    cores = len(os.sched_getaffinity(0))
    model, calib, _, accuracy = _toy()
    cfg = _config(tmp_path, tuning={"executor": {"name": "local", "workers": 100000}})
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=rf"tuning.executor.workers .*100000 .* {cores} usable cores"):
        lpot.tune(model, calib, eval_func=accuracy, config=cfg, progress=False)
    assert time.monotonic() - t0 < 10  # refused before any worker starts
    files = toy_files(tmp_path / "files")
    one_line_error(run_lpot(*tune_args(files, "--workers", "100000")), "--workers", f"{cores} usable cores")


def test_timeout_1e308_is_read_by_yaml_as_a_string(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("tuning: {exit_policy: {timeout: 1e308}}\n")
    with pytest.raises(ConfigError, match=r"tuning.exit_policy.timeout: .*'1e308'.*YAML.*1\.0e\+308"):
        lpot.load_config(str(conf))


# warnings that name why (§9) --------------------------------------------------------------------
def test_sampling_size_above_the_available_samples_warns(tmp_path, caplog):
    model, calib, evals, accuracy = _toy()
    cfg = _config(tmp_path, quantization={"calibration": {"sampling_size": 1000}})
    with caplog.at_level(logging.WARNING, logger="lpot"):
        result = lpot.tune(model, calib, eval_func=accuracy, config=cfg, progress=False)
    assert result.met
    text = caplog.text
    assert "sampling_size 1000" in text and "200 samples" in text, text


def test_device_gpu_on_a_cpu_run_warns(tmp_path, caplog):
    model, calib, evals, accuracy = _toy()
    with caplog.at_level(logging.WARNING, logger="lpot"):
        lpot.tune(model, calib, eval_func=accuracy, config=_config(tmp_path, device="gpu"), progress=False)
    assert "device: gpu" in caplog.text and "CPU" in caplog.text, caplog.text


def test_lpot_workspace_resume_key_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="lpot"):
        lpot.load_config({"tuning": {"workspace": {"path": "ws", "resume": "./snapshot.pkl"}}})
    assert "tuning.workspace.resume is ignored" in caplog.text and "never unpickles" in caplog.text


# data (§5, §6) ----------------------------------------------------------------------------------
def test_data_of_dtype_str(tmp_path):
    files = toy_files(tmp_path / "files")
    np.savez(files["data"], x=np.array([["a"] * 16] * 64), y=np.zeros(64, np.int64))
    one_line_error(run_lpot(*tune_args(files)), "dtype <U1", "numbers")


class _Raising:
    """A loader whose second batch raises, as a broken file reader would."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if i == 1:
                raise OSError("unexpected end of file in shard 3")
            yield batch


def test_an_evaluation_loader_that_raises(tmp_path):
    model, calib, evals, _ = _toy()
    cfg = _config(tmp_path, evaluation={"accuracy": {"metric": {"topk": 1}}})
    with pytest.raises(DataError, match="eval_dataloader raised OSError: unexpected end of file in shard 3"):
        lpot.tune(model, calib, eval_dataloader=_Raising(evals), config=cfg, progress=False)


def test_a_calibration_loader_that_raises(tmp_path):
    model, calib, evals, accuracy = _toy()
    with pytest.raises(DataError, match="q_dataloader raised OSError: unexpected end of file in shard 3"):
        lpot.tune(model, _Raising(calib), eval_func=accuracy, config=_config(tmp_path), progress=False)


class _Endless:
    def __iter__(self):
        batch = next(iter(_toy()[2]))
        while True:
            yield batch


def test_an_endless_evaluation_loader_meets_the_cap(tmp_path):
    model, calib, _, _ = _toy()
    cfg = _config(tmp_path, evaluation={"accuracy": {"metric": {"topk": 1}, "max_batches": 50}})
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"more than 50 batches .*evaluation.accuracy.max_batches"):
        lpot.tune(model, calib, eval_dataloader=_Endless(), config=cfg, progress=False)
    assert time.monotonic() - t0 < 30


def test_the_evaluation_cap_has_a_documented_default():
    from lpot.config.evaluation import DEFAULT_MAX_BATCHES, AccuracyConfig

    assert AccuracyConfig().max_batches == DEFAULT_MAX_BATCHES == 100_000
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "max_batches" in readme and "100000" in readme.replace("_", "").replace(",", "")


# import-path metrics (§5, §9) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("..:x", "not an import path"),
        ("os:system", "not a metric"),
        ("shutil:rmtree", "not a metric"),
        ("builtins:print", "not a metric"),
    ],
)
def test_import_path_metrics_must_implement_the_protocol(tmp_path, path, fragment):
    model, calib, evals, _ = _toy()
    cfg = _config(tmp_path, evaluation={"accuracy": {"metric": {path: {}}}})
    with pytest.raises(PluginError, match=fragment):
        lpot.tune(model, calib, eval_dataloader=evals, config=cfg, progress=False)
    files = toy_files(tmp_path / "files")
    conf = files["config"].read_text().replace("{topk: 1}", f'{{"{path}": {{}}}}')
    files["config"].write_text(conf)
    one_line_error(run_lpot(*tune_args(files)), repr(path), fragment)


def test_an_import_path_function_with_the_documented_signature_is_a_metric(tmp_path, monkeypatch):
    (tmp_path / "my_metrics.py").write_text(
        "import numpy as np\n\ndef top1(preds, labels):\n    return float((preds.argmax(1) == labels).mean())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    model, calib, evals, _ = _toy()
    cfg = _config(tmp_path, evaluation={"accuracy": {"metric": {"my_metrics:top1": {}}}})
    assert lpot.tune(model, calib, eval_dataloader=evals, config=cfg, progress=False).met


# reports and flags (§5, §9) ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    files = toy_files(tmp)
    conf = files["config"].read_text().replace("{name: faults}", '{name: "<script>alert(1)</script> | x"}')
    files["config"].write_text(conf)
    done = run_lpot(*tune_args(files))
    assert done.returncode == 0, done.stderr
    return files


def test_markdown_report_escapes_names(finished, tmp_path):
    out = tmp_path / "r.md"
    done = run_lpot("report", str(finished["workspace"]), "--format", "md", "--output", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; \\| x" in text, text


def test_report_output_is_a_directory(finished, tmp_path):
    one_line_error(
        run_lpot("report", str(finished["workspace"]), "--quiet", "--output", str(tmp_path)),
        str(tmp_path),
        "is a folder",
    )


def test_report_output_cannot_be_written(finished):
    target = UNWRITABLE / "report.html"
    one_line_error(
        run_lpot("report", str(finished["workspace"]), "--quiet", "--output", str(target)),
        str(target),
        "cannot",
    )


@pytest.mark.parametrize("flag", ["--iterations", "--cores-per-instance", "--num-instances"])
def test_benchmark_flags_of_zero(finished, flag):
    args = [
        "benchmark",
        "--model",
        str(finished["model"]),
        "--data",
        str(finished["data"]),
        "--quiet",
        flag,
        "0",
    ]
    one_line_error(run_lpot(*args), f"{flag} 0", ">= 1")
