"""The lpot command: tune from files, report a workspace, one-line errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import toy_job
from lpot_toy.engine import save_file


def _lpot(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "lpot", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def _files(tmp_path):
    model = save_file(toy_job.make_model(), tmp_path / "toy.mlp.npz")
    x, y = toy_job.make_data(1)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        "model: {name: toy}\nevaluation: {accuracy: {metric: {topk: 1}}}\n"
        f"tuning: {{accuracy_criterion: {{relative: 0.02}}, workspace: {{path: {tmp_path / 'ws'}}}}}\n"
    )
    return model, conf


def test_tune_then_report(tmp_path):
    model, conf = _files(tmp_path)
    out = _lpot(
        "tune",
        str(conf),
        "--model",
        str(model),
        "--data",
        str(tmp_path / "data.npz"),
        "--quiet",
        "--output",
        str(tmp_path / "out"),
    )
    assert out.returncode == 0, out.stderr
    assert "status: met" in out.stdout
    assert "calibration passes: 1" in out.stdout
    assert (tmp_path / "out" / "recipe.json").exists()
    report = _lpot("report", str(tmp_path / "ws"), "--format", "text")
    assert report.returncode == 0, report.stderr
    assert "backend: toy" in report.stdout and "model-wise default" in report.stdout


def test_user_errors_are_one_line_with_exit_2(tmp_path):
    model, conf = _files(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("tuning:\n  acuracy_criterion: {relative: 0.01}\n")
    out = _lpot("tune", str(bad), "--model", str(model), "--data", str(tmp_path / "data.npz"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "did you mean 'accuracy_criterion'" in out.stderr
    missing = _lpot("tune", str(conf), "--model", str(model), "--data", str(tmp_path / "nope.npz"))
    assert missing.returncode == 2 and "nope.npz" in missing.stderr and "does not exist" in missing.stderr


def test_debug_shows_the_traceback(tmp_path):
    model, _ = _files(tmp_path)
    out = _lpot("--debug", "report", str(tmp_path / "nowhere"))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_npz_with_pickled_objects_is_refused(tmp_path):
    model, conf = _files(tmp_path)
    np.savez(tmp_path / "evil.npz", x=np.array([{"a": 1}], dtype=object))
    out = _lpot("tune", str(conf), "--model", str(model), "--data", str(tmp_path / "evil.npz"))
    assert out.returncode == 2 and "not a readable .npz of plain arrays" in out.stderr


def test_plugins_listing(tmp_path):
    out = _lpot("plugins")
    assert out.returncode == 0
    assert "toy" in out.stdout and "unusable" in out.stdout and "basic" in out.stdout


def test_usage_a_from_yaml_only(tmp_path):
    """Calibration and evaluation data, metric and criterion all from the YAML: no Python, no --data."""
    model = save_file(toy_job.make_model(), tmp_path / "toy.mlp.npz")
    x, y = toy_job.make_data(1)
    np.savez(tmp_path / "calib.npz", x=x[:200], y=y[:200])
    np.savez(tmp_path / "val.npz", x=x[200:], y=y[200:])
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"""
model: {{name: toy}}
quantization:
  calibration:
    sampling_size: 100
    dataloader:
      batch_size: 25
      dataset:
        numpy: {{data: {tmp_path / "calib.npz"}}}
evaluation:
  accuracy:
    metric: {{topk: 1}}
    dataloader:
      batch_size: 50
      dataset:
        numpy: {{data: {tmp_path / "val.npz"}}}
tuning:
  accuracy_criterion: {{relative: 0.02}}
  workspace: {{path: {tmp_path / "ws"}}}
""")
    out = _lpot("tune", str(conf), "--model", str(model), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "status: met" in out.stdout and "calibration passes: 1" in out.stdout


def test_usage_a_missing_dataset_root_names_file_key_and_path(tmp_path):
    model = save_file(toy_job.make_model(), tmp_path / "toy.mlp.npz")
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        "quantization:\n  calibration:\n    dataloader:\n      dataset:\n        ImageFolder: {root: /no/such/dir}\n"
    )
    out = _lpot("tune", str(conf), "--model", str(model))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"lpot: error: {conf}: quantization.calibration.dataloader.dataset.ImageFolder.root: '/no/such/dir' does not exist"
    )
