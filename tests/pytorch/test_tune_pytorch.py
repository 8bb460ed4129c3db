"""End to end through lpot.tune on real torch models: digits CNN (static, QAT), transformer (dynamic)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lpot
from lpot import plugins
from lpot.errors import ConfigError, ModelError
from lpot.isa import cpu_features
from lpot_pytorch import PyTorchBackend, fx
from lpot_pytorch.serialization import rebuild
from models import DigitsNet, TinyEncoder, accuracy, token_task, train
from probes import bf16_ops, int8_ops

HERE = Path(__file__).resolve().parent


def _config(tmp_path: Path, **tuning) -> dict:
    return {"tuning": {"workspace": {"path": str(tmp_path / "ws")}, **tuning}}


def test_static_int8_meets_one_percent_with_eval_func(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    baseline = accuracy(model, xv, yv)
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:100], y[:100], batch_size=25),
        eval_func=lambda m: accuracy(m, xv, yv),
        config=_config(tmp_path),
        progress=False,
    )
    assert result.status == "met"
    assert result.accuracy >= baseline * 0.99
    assert int8_ops(result.model) == {"conv1", "conv2", "conv3", "fc1", "fc2"}
    assert accuracy(result.model, xv, yv) == pytest.approx(result.accuracy)
    # the saved weights + recipe rebuild the same INT8 graph on the FP32 definition (no pickle, no
    # TorchScript); reading it without the definition says how to rebuild it
    out = result.save(tmp_path / "out")
    assert out.name == "state_dict.pt"
    with pytest.raises(ModelError, match=r"lpot.utils.pytorch.load\(folder, fp32_model\)"):
        plugins.backend_by_name("pytorch").read(tmp_path / "out")
    again = rebuild(
        model, lpot.Recipe.from_json((tmp_path / "out" / "recipe.json").read_text()), tmp_path / "out"
    )
    assert int8_ops(again) == int8_ops(result.model)
    torch.testing.assert_close(again(torch.from_numpy(xv[:50])), result.model(torch.from_numpy(xv[:50])))
    assert accuracy(again, xv, yv) == pytest.approx(result.accuracy)


def test_passes_usable_alone(digits):
    """prepare -> run data -> convert, without lpot.tune, the way torch users do it."""
    model, (x, y, xv, yv) = digits
    backend = plugins.backend_by_name("pytorch")
    from lpot.space import build_space

    recipe = build_space(backend.capability(model), approach="post_training_static_quant").default_recipe()
    recipe = recipe.fallback([k for k in recipe.ops if k.name == "fc2"])
    prepared = fx.prepare(model, recipe, (torch.from_numpy(x[:1]),))
    fx.calibrate(prepared, [torch.from_numpy(x[i : i + 32]) for i in range(0, 128, 32)])
    quantized = fx.convert(prepared, recipe)
    assert int8_ops(quantized) == {"conv1", "conv2", "conv3", "fc1"}
    assert isinstance(quantized.fc2, nn.Linear)
    assert accuracy(quantized, xv, yv) >= accuracy(model, xv, yv) - 0.02


@pytest.mark.skipif(not cpu_features().fast_bf16, reason="no native BF16 on this CPU: BF16 is not offered")
def test_bf16_is_the_fallback_precision_where_the_cpu_has_it(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    cap = plugins.backend_by_name("pytorch").capability(model)
    assert "bf16" in cap.opwise[next(iter(cap.opwise))].activation.dtype

    def sensitive_conv1(m):  # conv1 must leave INT8
        return accuracy(m, xv, yv) - (0.5 if "conv1" in int8_ops(m) else 0.0)

    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
        eval_func=sensitive_conv1,
        config=_config(tmp_path),
        progress=False,
    )
    assert result.status == "met"
    assert bf16_ops(result.model) == {"conv1"}
    assert int8_ops(result.model) == {"conv2", "conv3", "fc1", "fc2"}
    assert {p.dtype for p in result.model.conv1.parameters()} == {torch.bfloat16}


def test_bf16_left_out_without_native_support(digits):
    from lpot.isa import CpuFeatures
    from lpot_pytorch.capability import build_capability

    avx2_only = CpuFeatures(avx2=True)
    cap = build_capability(digits[0], cpu=avx2_only)
    assert all("bf16" not in c.activation.dtype for c in cap.opwise.values())
    assert cap.options["reduce_range"][0] is True  # no VNNI: 7-bit activations first


def test_dynamic_int8_transformer_encoder(tmp_path):
    torch.manual_seed(0)
    tokens, labels = token_task()
    model = TinyEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(tokens[:1000]), torch.from_numpy(labels[:1000])
    for _ in range(3):
        for idx in torch.randperm(1000).split(50):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()
    xv, yv = tokens[1000:], labels[1000:]
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(tokens[:64], labels[:64], batch_size=32),
        eval_func=lambda m: accuracy(m, xv, yv),
        config={
            "quantization": {"approach": "post_training_dynamic_quant"},
            **_config(tmp_path),
        },
        progress=False,
    )
    assert result.baseline_accuracy > 0.9
    assert result.status == "met"
    dynamic = {
        n
        for n, m in result.model.named_modules()
        if type(m).__module__.endswith("quantized.dynamic.modules.linear")
    }
    assert {"head", "encoder.layers.0.linear1", "encoder.layers.1.linear2"} <= dynamic
    assert result.model.encoder.layers[0].linear1.weight().dtype == torch.qint8
    backend = plugins.backend_by_name("pytorch")
    # the attention projections stay FP32 in torch (out_proj refuses dynamic INT8), the FFN shrinks 4x
    assert backend.model_size(result.model) < 0.75 * backend.model_size(model)


def test_qat_matches_or_beats_ptq(tmp_path, digits):
    _, (x, y, xv, yv) = digits
    torch.manual_seed(1)
    model = train(DigitsNet(), x, y, epochs=2)  # under-trained: QAT's fine-tuning has room to help
    calib = lpot.ArrayLoader(x[:64], y[:64], batch_size=32)
    ptq = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=lambda m: accuracy(m, xv, yv),
        config=_config(tmp_path / "p"),
        progress=False,
    )

    def q_func(prepared: nn.Module) -> None:
        train(prepared, x, y, epochs=1, lr=1e-3)

    qat = lpot.tune(
        model,
        q_dataloader=calib,
        q_func=q_func,
        eval_func=lambda m: accuracy(m, xv, yv),
        config={"quantization": {"approach": "quant_aware_training"}, **_config(tmp_path / "q")},
        progress=False,
    )
    assert int8_ops(qat.model) == {"conv1", "conv2", "conv3", "fc1", "fc2"}
    assert qat.accuracy >= ptq.accuracy - 0.005
    with pytest.raises(ConfigError, match="q_func"):
        lpot.tune(
            model,
            q_dataloader=calib,
            eval_func=lambda m: accuracy(m, xv, yv),
            config={"quantization": {"approach": "quant_aware_training"}, **_config(tmp_path / "n")},
            progress=False,
        )


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = Gate()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.gate(torch.flatten(x, 1)))


class Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            return torch.relu(x)
        return x


def test_untraceable_module_is_named_and_leaf_modules_fix_it(tmp_path, digits):
    _, (x, y, xv, yv) = digits
    model = Branchy().eval()
    with pytest.raises(ModelError, match=r"module 'gate' \(Gate\).*leaf_modules=\['gate'\]"):
        lpot.tune(
            model,
            q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
            eval_func=lambda m: 1.0,
            config=_config(tmp_path / "a"),
            progress=False,
        )
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
        eval_func=lambda m: 1.0,
        backend=PyTorchBackend(leaf_modules=["gate"]),
        config=_config(tmp_path / "b"),
        progress=False,
    )
    assert int8_ops(result.model) == {"fc"}


def _finished(workspace: Path) -> int:
    try:
        with sqlite3.connect(workspace / "history.sqlite") as con:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume_redoes_nothing(tmp_path):
    workspace, calls = tmp_path / "ws", tmp_path / "calls.jsonl"
    job = [sys.executable, str(HERE / "torch_job.py"), str(workspace), "--calls", str(calls)]
    proc = subprocess.Popen([*job, "--sleep", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _finished(workspace) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _finished(workspace)
    seen_before = len(calls.read_text().splitlines())
    out = subprocess.run([*job, "--resume"], capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "met"
    assert "conv2" not in summary["int8"] and "fc1" not in summary["int8"]
    resumed_calls = len(calls.read_text().splitlines()) - seen_before
    # the baseline and every finished trial come from history; only new trials (+ the final model's
    # rebuild, which is not evaluated) cost an evaluation
    assert resumed_calls == summary["trials"] - kept
    np.testing.assert_equal(kept >= 3, True)
