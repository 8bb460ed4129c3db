"""Pruning and distillation on the digits CNN: schedules reached, accuracy kept, zeros kept through
quantization and QAT, a distilled student beating the same student trained alone."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import lpot
from lpot.compression import sparsity_at
from lpot.errors import ConfigError
from lpot_pytorch.distillation import DistillationLoss
from lpot_pytorch.pruning import Pruner, sparsity_report, train_pruned
from models import accuracy
from probes import int8_ops


def _batches(x, y, seed=0, size=64):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(seed)
    return [(xt[i], yt[i]) for i in torch.randperm(len(xt)).split(size)]


def _finetune(model, config, x, y, epochs=5):
    work = copy.deepcopy(model)
    optimizer = torch.optim.Adam(work.parameters(), lr=1e-3)
    return train_pruned(work, config, _batches(x, y), epochs=epochs, optimizer=optimizer)


def test_gradual_magnitude_pruning_reaches_the_target_and_keeps_accuracy(digits):
    model, (x, y, xv, yv) = digits
    work = copy.deepcopy(model)
    pruner = Pruner(work, {"target_sparsity": 0.8, "start_epoch": 0, "end_epoch": 3})
    opt = torch.optim.Adam(work.parameters(), lr=1e-3)
    seen = []
    for epoch in range(7):  # 0-3 prune along the schedule, 4-6 fine-tune at the target
        pruner.on_epoch_begin(epoch)
        for xb, yb in _batches(x, y, seed=epoch):
            opt.zero_grad()
            nn.functional.cross_entropy(work(xb), yb).backward()
            opt.step()
            pruner.on_step_end()
        seen.append(np.mean(list(pruner.sparsity().values())))
    # per epoch, the cubic schedule (within 1 %: layer sizes round)
    for epoch, got in enumerate(seen):
        assert got == pytest.approx(sparsity_at(epoch, target=0.8, end_epoch=3), abs=0.01)
    dense = pruner.strip()
    assert all(abs(s - 0.8) <= 0.01 for s in sparsity_report(dense).values())
    assert not any(hasattr(m, "parametrizations") for m in dense.modules())
    assert accuracy(dense, xv, yv) >= accuracy(model, xv, yv) - 0.02


def test_two_four_pattern_and_channel_pattern(digits):
    model, (x, y, xv, yv) = digits
    nm = _finetune(model, {"pattern": "2:4", "names": ["fc*", "conv2", "conv3"]}, x, y, epochs=2)
    w = nm.fc1.weight.detach().reshape(64, -1, 4)
    assert ((w == 0).sum(-1) >= 2).all()
    assert accuracy(nm, xv, yv) >= accuracy(model, xv, yv) - 0.02
    ch = _finetune(model, {"pattern": "channel", "target_sparsity": 0.5, "names": ["conv3"]}, x, y, epochs=2)
    rows = (ch.conv3.weight.detach().reshape(64, -1) == 0).all(1)
    assert int(rows.sum()) == 32


def test_gradient_sensitivity_reaches_its_target(digits):
    model, (x, y, xv, yv) = digits
    pruned = _finetune(
        model,
        {"method": "gradient_sensitivity", "target_sparsity": 0.7, "start_epoch": 1, "end_epoch": 3},
        x,
        y,
    )
    assert all(abs(s - 0.7) <= 0.01 for s in sparsity_report(pruned).values())
    assert accuracy(pruned, xv, yv) >= accuracy(model, xv, yv) - 0.03


def test_pattern_lock_keeps_zeros_while_fine_tuning_and_through_qat(digits, tmp_path):
    model, (x, y, xv, yv) = digits
    sparse = _finetune(model, {"target_sparsity": 0.6, "end_epoch": 1}, x, y, epochs=2)
    zeros = {n: (m.weight == 0) for n, m in sparse.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    locked = _finetune(sparse, {"method": "pattern_lock"}, x, y, epochs=2)
    for name, m in locked.named_modules():
        if name in zeros:
            assert (m.weight[zeros[name]] == 0).all()

    def q_func(prepared):  # QAT with the sparsity pattern locked, then the masks baked in
        pruner = Pruner(prepared, {"method": "pattern_lock"})
        opt = torch.optim.Adam(prepared.parameters(), lr=1e-4)
        prepared.train()
        for xb, yb in _batches(x, y)[:8]:
            opt.zero_grad()
            nn.functional.cross_entropy(prepared(xb), yb).backward()
            opt.step()
        pruner.strip()

    result = lpot.tune(
        locked,
        q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
        q_func=q_func,
        eval_func=lambda m: accuracy(m, xv, yv),
        config={
            "quantization": {"approach": "quant_aware_training"},
            "tuning": {"workspace": {"path": str(tmp_path)}},
        },
        progress=False,
    )
    assert int8_ops(result.model)
    for name, s in sparsity_report(result.model).items():
        assert s >= 0.59, f"{name}: INT8 weights lost the zeros ({s:.3f})"


def test_pruned_model_keeps_its_sparsity_through_static_int8(digits, tmp_path):
    model, (x, y, xv, yv) = digits
    sparse = _finetune(model, {"target_sparsity": 0.75, "end_epoch": 1}, x, y, epochs=2)
    result = lpot.tune(
        sparse,
        q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
        eval_func=lambda m: accuracy(m, xv, yv),
        config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        progress=False,
    )
    assert result.status == "met"
    report = sparsity_report(result.model)
    assert set(report) == int8_ops(result.model)
    assert all(s >= 0.75 for s in report.values())  # symmetric INT8 maps 0 to 0; small weights may join


def test_bad_pruning_settings_name_the_key(digits):
    with pytest.raises(ConfigError, match=r"pruning\.target_sparsity: expected a fraction"):
        Pruner(copy.deepcopy(digits[0]), {"target_sparsity": 2})
    with pytest.raises(ConfigError, match="no Conv/Linear layer"):
        Pruner(copy.deepcopy(digits[0]), {"names": ["nothing*"]})


def test_distilled_student_beats_the_same_student_trained_alone(digits):
    """Same student, data, seed and epochs; the student's labels are noisy (30 % replaced at random,
    as with cheap labelling), the teacher was trained on clean ones: its soft targets carry the
    signal the labels lost."""
    teacher, (x, y, xv, yv) = digits
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.3
    noisy[flip] = rng.integers(0, 10, int(flip.sum()))
    n = 600

    def student(seed):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def fit(model, loss, seed):
        torch.manual_seed(seed)
        xt, yt = torch.from_numpy(x[:n]), torch.from_numpy(noisy[:n])
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(20):
            for idx in torch.randperm(n).split(32):
                opt.zero_grad()
                loss(model(xt[idx]), xt[idx], yt[idx]).backward()
                opt.step()
        return accuracy(model.eval(), xv, yv)

    for seed in range(2):
        alone = fit(student(seed), lambda s, _x, labels: nn.functional.cross_entropy(s, labels), seed)
        s = student(seed)
        distilled = fit(s, DistillationLoss(teacher, s, {"temperature": 4, "loss_weights": [0.3, 0.7]}), seed)
        assert distilled >= alone + 0.02, (seed, alone, distilled)


def test_intermediate_layer_distillation_checks_shapes(digits):
    teacher = digits[0]
    student = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Flatten(), nn.Linear(512, 10))
    kd = DistillationLoss(
        teacher, student, {"layers": {"0": "conv1"}, "loss_types": ["KL"], "loss_weights": [1.0]}
    )
    x = torch.randn(4, 1, 8, 8)
    with pytest.raises(
        ConfigError, match=r"student '0' output \(4, 8, 8, 8\) and teacher 'conv1' output \(4, 32, 8, 8\)"
    ):
        kd(student(x), x)
