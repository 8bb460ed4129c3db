"""LPOT 1.x PyTorch scripts on lpot: PTQ then ``lpot.utils.pytorch.load``, QAT through ``q_func``,
pruning with a ``!Pruner`` YAML and the 1.x callbacks, distillation with a teacher, the legacy call."""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from torch import nn

import lpot
from lpot.experimental import Distillation, Pruning, Quantization, common
from lpot.utils.pytorch import load
from lpot_pytorch.pruning import sparsity_report
from models import accuracy
from probes import int8_ops

ALL = {"conv1", "conv2", "conv3", "fc1", "fc2"}


class Digits:
    """A 1.x map-style dataset of (image, label) numpy samples."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


def _yaml(tmp_path, body: str, name: str = "conf.yaml") -> str:
    path = tmp_path / name
    path.write_text(
        "model: {name: digits, framework: pytorch_fx}\n"
        f"{body}"
        "tuning:\n  accuracy_criterion: {relative: 0.01}\n  objective: model_size\n"
        f"  workspace: {{path: {tmp_path / 'ws'}}}\n"
    )
    return str(path)


def test_ptq_save_then_utils_load_gives_the_same_int8_model(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    quantizer = Quantization(_yaml(tmp_path, "quantization: {calibration: {sampling_size: 64}}\n"))
    quantizer.model = common.Model(model)
    quantizer.calib_dataloader = common.DataLoader(Digits(x[:64], y[:64]), batch_size=32)
    quantizer.eval_func = lambda m: accuracy(m, xv, yv)
    q_model = quantizer()
    assert q_model.result.met and int8_ops(q_model.model) == ALL

    q_model.save(tmp_path / "saved")
    # weights + recipe, no TorchScript (deprecated in torch 2.13) and no program (INT8 cannot export)
    assert {"recipe.json", "state_dict.pt"} <= set(os.listdir(tmp_path / "saved"))
    fresh = copy.deepcopy(model)
    loaded = load(str(tmp_path / "saved"), fresh)
    assert int8_ops(loaded) == ALL
    with torch.inference_mode():
        batch = torch.from_numpy(xv[:64])
        assert torch.equal(loaded(batch), q_model.model(batch))
    assert accuracy(loaded, xv, yv) == pytest.approx(q_model.result.accuracy)


def test_legacy_call_saves_the_checkpoint_1x_scripts_load(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    quantizer = lpot.Quantization(_yaml(tmp_path, ""))
    calib = quantizer.dataloader(Digits(x[:64], y[:64]), batch_size=32)
    q_model = quantizer(model, q_dataloader=calib, eval_func=lambda m: accuracy(m, xv, yv))
    assert isinstance(q_model, nn.Module) and int8_ops(q_model) == ALL
    reloaded = load(os.path.join(tmp_path, "ws", "checkpoint"), model)
    with torch.inference_mode():
        assert torch.equal(reloaded(torch.from_numpy(xv[:16])), q_model(torch.from_numpy(xv[:16])))


def test_qat_through_q_func(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    trained_batches = []

    def q_func(prepared):  # a 1.x training function: trains the model it is given, in place
        opt = torch.optim.Adam(prepared.parameters(), lr=1e-4)
        prepared.train()
        for xb, yb in common.DataLoader(Digits(x[:256], y[:256]), batch_size=64):
            opt.zero_grad()
            nn.functional.cross_entropy(prepared(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
            opt.step()
            trained_batches.append(len(yb))

    quantizer = Quantization(_yaml(tmp_path, "quantization: {approach: quant_aware_training}\n"))
    quantizer.model = common.Model(model)
    quantizer.q_func = q_func
    quantizer.calib_dataloader = common.DataLoader(Digits(x[:64], y[:64]), batch_size=32)
    quantizer.eval_func = lambda m: accuracy(m, xv, yv)
    q_model = quantizer.fit()
    assert trained_batches and set(trained_batches) == {64} and len(trained_batches) % 4 == 0
    assert q_model.result.recipe.approach == "quant_aware_training"
    assert int8_ops(q_model.model) == ALL and q_model.result.met


PRUNE_YAML = """\
pruning:
  train: {start_epoch: 0, end_epoch: 4}
  approach:
    weight_compression:
      initial_sparsity: 0.0
      target_sparsity: 0.8
      start_epoch: 0
      end_epoch: 3
      pruners:
        - !Pruner
            prune_type: basic_magnitude
            names: ['conv3.weight', 'fc1.weight']
        - !Pruner
            target_sparsity: 0.5
            start_epoch: 1
            end_epoch: 2
            prune_type: gradient_sensitivity
            names: ['conv2.weight']
"""


def test_pruning_with_a_pruner_yaml_and_the_1x_callbacks(tmp_path, digits):
    fp32, (x, y, xv, yv) = digits
    model = copy.deepcopy(fp32)
    prune = Pruning(_yaml(tmp_path, PRUNE_YAML))
    prune.model = common.Model(model)
    calls = {"post_grad": 0, "epochs": 0}
    seen = []

    def train_func(m):  # a 1.x pruning loop, calling every callback
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        loader = common.DataLoader(Digits(x[:640], y[:640]), batch_size=64, shuffle=True)
        for epoch in range(4):
            prune.on_epoch_begin(epoch)
            m.train()
            for i, (xb, yb) in enumerate(loader):
                prune.on_batch_begin(i)
                nn.functional.cross_entropy(m(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
                prune.on_post_grad()
                calls["post_grad"] += 1
                opt.step()
                opt.zero_grad()
                prune.on_batch_end()
            prune.on_epoch_end()
            calls["epochs"] += 1
            seen.append(sparsity_report(m, ["conv3"])["conv3"])

    prune.pruning_func = train_func
    prune.eval_func = lambda m: accuracy(m, xv, yv)
    pruned = prune()

    assert calls["epochs"] == 4 and calls["post_grad"] == 4 * 10
    assert seen[0] < seen[1] < seen[2] < seen[3] == pytest.approx(0.8, abs=0.01)  # gradual
    report = sparsity_report(pruned.model)
    assert report["conv3"] == pytest.approx(0.8, abs=0.01) and report["fc1"] == pytest.approx(0.8, abs=0.01)
    assert report["conv2"] == pytest.approx(0.5, abs=0.01) and report["conv1"] == 0.0
    assert not any(hasattr(mod, "parametrizations") for mod in pruned.model.modules())
    assert accuracy(pruned.model, xv, yv) >= accuracy(fp32, xv, yv) - 0.03
    pruned.save(tmp_path / "pruned")
    reloaded = load(tmp_path / "pruned", fp32)
    assert sparsity_report(reloaded) == report
    with pytest.raises(lpot.LpotError, match="callbacks run inside prune.pruning_func"):
        prune.on_epoch_begin(0)


DISTILL_YAML = """\
distillation:
  train:
    criterion:
      KnowledgeDistillationLoss:
        temperature: 4.0
        loss_types: [CE, KL]
        loss_weights: [0.3, 0.7]
evaluation:
  accuracy:
    metric: {topk: 1}
"""


def _student(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _distill(tmp_path, teacher, x, y, xv, yv, *, precomputed: bool):
    """A 1.x distillation script; returns the distilled model, the component and the first batch's loss
    next to the same loss computed by hand."""
    distiller = Distillation(_yaml(tmp_path, DISTILL_YAML, "distill.yaml"))
    distiller.model = common.Model(_student(0))
    distiller.teacher_model = common.Model(teacher)
    distiller.eval_dataloader = common.DataLoader(Digits(xv, yv), batch_size=100, last_batch="no_rollover")
    with torch.no_grad():
        teacher_logits = teacher.eval()(torch.from_numpy(x))
    first = []

    def train_func(model):
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        distiller.pre_epoch_begin()
        for _ in range(3):
            model.train()
            for idx in torch.randperm(len(xt), generator=torch.Generator().manual_seed(0)).split(32):
                output = model(xt[idx])
                distiller.on_post_forward(xt[idx], teacher_logits[idx] if precomputed else None)
                loss = distiller.criterion(output, yt[idx])
                if not first:  # 0.3 CE + 0.7 T^2 KL(teacher || student) at T = 4, from the YAML
                    soft = nn.functional.kl_div(
                        nn.functional.log_softmax(output / 4, -1),
                        nn.functional.softmax(teacher_logits[idx] / 4, -1),
                        reduction="batchmean",
                    )
                    first.append(
                        (
                            loss.item(),
                            0.3 * nn.functional.cross_entropy(output, yt[idx]).item()
                            + 0.7 * 16 * soft.item(),
                        )
                    )
                opt.zero_grad()
                loss.backward()
                opt.step()
            distiller.on_epoch_end()

    distiller.train_func = train_func
    return distiller(), distiller, first[0]


def test_distillation_with_a_teacher_through_the_1x_callbacks(tmp_path, digits, caplog):
    teacher, (x, y, xv, yv) = copy.deepcopy(digits[0]), digits[1]
    with caplog.at_level("INFO", logger="lpot"):
        distilled, distiller, (loss, by_hand) = _distill(
            tmp_path, teacher, x[:640], y[:640], xv, yv, precomputed=False
        )
    assert loss == pytest.approx(by_hand, rel=1e-5)  # the teacher's soft targets are in the loss
    scores = [
        float(line.rsplit(" ", 1)[1].rstrip("."))
        for line in caplog.messages
        if "Student model of epoch" in line
    ]
    assert len(scores) == 3 and "Teacher model score is" in caplog.text
    best = accuracy(distilled.model, xv, yv)
    assert best == pytest.approx(max(scores)) and best > 0.85  # the best epoch's student is returned
    again, _, (loss, by_hand) = _distill(tmp_path, teacher, x[:640], y[:640], xv, yv, precomputed=True)
    assert loss == pytest.approx(by_hand, rel=1e-5)
    assert accuracy(again.model, xv, yv) == pytest.approx(best, abs=0.01)  # teacher outputs given up front
    assert all(p.requires_grad for p in teacher.parameters())  # the user's teacher is left trainable


def test_distillation_needs_its_pieces(tmp_path, digits):
    teacher = digits[0]
    distiller = Distillation(_yaml(tmp_path, DISTILL_YAML, "distill.yaml"))
    distiller.model = common.Model(_student(0))
    with pytest.raises(lpot.LpotError, match="teacher_model is not set"):
        distiller()
    distiller.teacher_model = common.Model(teacher)
    with pytest.raises(lpot.LpotError, match="no distiller.train_func set"):
        distiller()


def test_pytorch_ipex_names_what_to_use_instead(tmp_path):
    from lpot.errors import FeatureNotAvailableError
    from lpot.experimental import Quantization

    conf = tmp_path / "conf.yaml"
    conf.write_text("model: {name: m, framework: pytorch_ipex}\n")
    with pytest.raises(
        FeatureNotAvailableError,
        match=r"conf\.yaml: model\.framework 'pytorch_ipex': .*use framework: pytorch",
    ):
        Quantization(str(conf))
