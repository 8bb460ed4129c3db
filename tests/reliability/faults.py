"""Helpers of the fault corpus: the lpot command in a subprocess, toy and ONNX models on disk, and
small disks.

Two ways to fill a disk, both without touching the machine's mounts:

- ``fsize``: ``RLIMIT_FSIZE`` in the child (SIGXFSZ ignored), so writes past the limit fail with
  ``EFBIG``; works everywhere, and is what a quota or ``ulimit -f`` does;
- ``tmpfs``: a real small filesystem in a private user + mount namespace (``unshare -rm``), so writes
  fail with ``ENOSPC`` exactly as on a full disk. Skipped where unprivileged namespaces are off.

A read-only filesystem the same way: a read-only bind mount in a private namespace; and a folder
root cannot write either way: sysfs refuses new entries (``EPERM``) even to root, where ``chmod``
would not stop root.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
JOB = HERE / "fault_job.py"
DRIVER = HERE / "disk_driver.py"
UNWRITABLE = Path("/sys/kernel/lpot-workspace")  # sysfs: no new entries, even for root


def lpot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Any:
    """``python -m lpot ARGS`` (``--quiet``: only errors reach stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "lpot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def job_argv(*args: str) -> list[str]:
    """The lpot command run through ``fault_job.py``, which installs the faults named in the env."""
    return [sys.executable, str(JOB), *args]


def one_line_error(proc: Any, *fragments: str) -> str:
    """Exit 2, exactly one line on stderr (no traceback), holding every fragment; returns the line.
    ``proc``: a finished subprocess, or a step of :func:`run_steps`."""
    if isinstance(proc, dict):
        rc, stdout, stderr = proc["rc"], proc["stdout"], proc["stderr"]
    else:
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    assert rc == 2, (rc, stdout[-2000:], stderr[-4000:])
    assert "Traceback" not in stderr, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("lpot: error: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)
    return stderr.strip()


# toy models and data --------------------------------------------------------------------------
def toy_files(
    folder: Path,
    *,
    workspace: Path | None = None,
    big: bool = False,
    relative: float = 0.01,
    metric: str = "{topk: 1}",
    tuning: str = "",
) -> dict[str, Path]:
    """A toy model file, an .npz of its data and a YAML config (usage (a): ``metric`` over the data),
    the workspace ``folder/ws`` unless given. ``metric="{fault_metric:Top1: {}}"`` adds the faults
    of :mod:`fault_metric`.

    ``big``: a model whose saved INT8 weights (~330 KB) dwarf the history and run log, for full-disk
    cases during save."""
    from lpot_toy.engine import save_file
    from lpot_toy.known_answer import known_answer_model, loaders

    folder.mkdir(parents=True, exist_ok=True)
    if big:
        model, x, y = _big_model()
    else:
        model = known_answer_model(6, ("fc3", "fc5"))
        calib, evals = loaders()
        x, y = np.concatenate([calib.inputs, evals.inputs]), np.concatenate([calib.labels, evals.labels])
    files = {
        "model": save_file(model, folder / "model.mlp.npz"),
        "data": folder / "data.npz",
        "config": folder / "conf.yaml",
        "workspace": workspace or folder / "ws",
    }
    np.savez(files["data"], x=x, y=y)
    files["config"].write_text(
        "model: {name: faults}\n"
        "quantization:\n  calibration: {sampling_size: 100}\n"
        "  model_wise: {activation: {dtype: [uint8], scheme: [asym], algorithm: [minmax]}, "
        "weight: {granularity: [per_channel]}}\n"
        f"evaluation: {{accuracy: {{metric: {metric}}}}}\n"
        f"tuning:\n  accuracy_criterion: {{relative: {relative}}}\n  random_seed: 7\n"
        f"  workspace: {{path: {json.dumps(str(files['workspace']))}}}\n{tuning}"
    )
    return files


def _big_model() -> tuple[Any, np.ndarray, np.ndarray]:
    from lpot_toy.model import MLP

    rng = np.random.default_rng(3)
    layers = [
        (f"fc{i}", rng.normal(0, 0.05, (400, 400)).astype(np.float32), np.zeros(400, np.float32))
        for i in (1, 2)
    ]
    layers.append(("fc3", rng.normal(0, 0.05, (400, 8)).astype(np.float32), np.zeros(8, np.float32)))
    model = MLP(layers)
    x = rng.normal(0, 1, (200, 400)).astype(np.float32)
    return model, x, model(x).argmax(1).astype(np.int64)


def tune_args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "tune",
        str(files["config"]),
        "--model",
        str(files["model"]),
        "--data",
        str(files["data"]),
        "--quiet",
        *extra,
    ]


# small disks ----------------------------------------------------------------------------------
@functools.cache
def namespaces_work() -> bool:
    """Whether this machine lets us mount a tmpfs in a private user + mount namespace."""
    try:
        probe = subprocess.run(
            ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt && echo ok"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.stdout.strip() == "ok"


def run_steps(
    mount: Path, steps: list[dict[str, Any]], *, mode: str, size_kb: int = 0, readonly: bool = False
) -> dict[str, Any]:
    """Run ``steps`` (see ``disk_driver.py``) one after the other and return the driver's report.

    ``mode="tmpfs"``: ``mount`` is a ``size_kb`` tmpfs (or a read-only bind of itself) in a private
    namespace, alive for the steps only; the report says what the steps saw and left there.
    ``mode="fsize"`` (or any other): the steps run as they are (their env carries the limits)."""
    mount.mkdir(parents=True, exist_ok=True)
    report = mount.parent / f"{mount.name}-report.json"
    plan = mount.parent / f"{mount.name}-steps.json"
    plan.write_text(json.dumps(steps))
    driver = [sys.executable, str(DRIVER), str(mount), str(plan), str(report)]
    if mode == "tmpfs":
        where = shlex.quote(str(mount))
        setup = (
            f"mount --bind {where} {where} && mount -o remount,bind,ro {where}"
            if readonly
            else f"mount -t tmpfs -o size={size_kb}k none {where}"
        )
        command = ["unshare", "-rm", "sh", "-c", f"{setup} && exec {shlex.join(driver)}"]
    else:
        command = driver
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and report.exists(), (done.stdout[-3000:], done.stderr[-3000:])
    return json.loads(report.read_text())


def disk_modes() -> list[Any]:
    import pytest

    skip = pytest.mark.skipif(not namespaces_work(), reason="no unprivileged user+mount namespaces here")
    return [pytest.param("fsize", id="fsize-EFBIG"), pytest.param("tmpfs", id="tmpfs-ENOSPC", marks=skip)]


def full_disk_words(mode: str) -> str:
    """What the message must say: a full disk, or the file size limit that stood for it."""
    return "disk full" if mode == "tmpfs" else "file size limit"


# ONNX -------------------------------------------------------------------------------------------
def onnx_mlp(seed: int = 0, width: int = 32, extra_nodes: list[Any] | None = None) -> Any:
    """A 2-layer MatMul MLP (16 -> width -> 4) built with onnx.helper; ``extra_nodes`` appended
    (from ``y0`` to ``y``: the model is then checked only when they are standard ops)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.3, (16, width)).astype(np.float32)
    w2 = rng.normal(0, 0.3, (width, 4)).astype(np.float32)
    out = "y" if not extra_nodes else "y0"
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
        helper.make_node("Relu", ["h"], ["a"], name="act"),
        helper.make_node("MatMul", ["a", "w2"], [out], name="fc2"),
        *(extra_nodes or []),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    domains = sorted({n.domain for n in nodes if n.domain})
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, 1) for d in domains)]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    if all(onnx.defs.has(n.op_type, n.domain) for n in nodes):
        onnx.checker.check_model(model)
    return model


def onnx_data(n: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(n, 16)).astype(np.float32)
    return x, np.zeros(n, np.int64)
