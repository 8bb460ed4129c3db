"""Framework-neutral pruning/distillation pieces: config sections, schedules, sparsity patterns."""

from __future__ import annotations

import numpy as np
import pytest

from lpot.compression import parse_distillation, parse_pattern, parse_pruning, sparsity_at
from lpot.config import load_config
from lpot.errors import ConfigError


def test_flat_pruning_section():
    cfg = parse_pruning(
        {"method": "magnitude", "target_sparsity": 0.8, "end_epoch": 4, "names": "fc1, conv*"}
    )
    (p,) = cfg.pruners
    assert (p.target_sparsity, p.start_epoch, p.end_epoch, p.schedule) == (0.8, 0, 4, "gradual")
    assert p.selects("fc1") and p.selects("conv2") and not p.selects("fc2")


def test_lpot1_weight_compression_layout():
    cfg = parse_pruning(
        {
            "approach": {
                "weight_compression": {
                    "initial_sparsity": 0.0,
                    "target_sparsity": 0.9,
                    "start_epoch": 0,
                    "end_epoch": 4,
                    "pruners": [
                        {
                            "start_epoch": 1,
                            "end_epoch": 3,
                            "prune_type": "basic_magnitude",
                            "names": ["conv1"],
                        },
                        {"target_sparsity": 0.6, "prune_type": "gradient_sensitivity", "names": ["fc1"]},
                    ],
                }
            }
        }
    )
    a, b = cfg.pruners
    assert (a.method, a.target_sparsity, a.start_epoch, a.end_epoch) == ("magnitude", 0.9, 1, 3)
    assert (b.method, b.target_sparsity, b.end_epoch) == ("gradient_sensitivity", 0.6, 4)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"pruning": {"target_sparsity": 1.5}},
            "pruning.target_sparsity: expected a fraction in [0, 1), got 1.5",
        ),
        ({"pruning": {"method": "magnitud"}}, "did you mean 'magnitude'"),
        ({"pruning": {"pattern": "4:2"}}, "pruning.pattern: expected unstructured, channel, N:M"),
        ({"pruning": {"pattern": "2:4", "target_sparsity": 0.8}}, "always gives sparsity 0.5"),
        (
            {"pruning": {"start_epoch": 3, "end_epoch": 1}},
            "pruning.end_epoch: expected end_epoch >= start_epoch (3)",
        ),
        (
            {"pruning": {"taget_sparsity": 0.5}},
            "unknown key 'pruning.taget_sparsity'; did you mean 'target_sparsity'?",
        ),
        (
            {"distillation": {"loss_types": ["CE", "KL"], "loss_weights": [1.0]}},
            "distillation.loss_weights: expected 2 weights",
        ),
        ({"distillation": {"temperature": 0}}, "distillation.temperature: expected a positive number"),
        (
            {"distillation": {"loss_types": ["CE", "JS"], "loss_weights": [0.5, 0.5]}},
            "distillation.loss_types",
        ),
    ],
)
def test_bad_sections_fail_at_load_time_with_the_key(tmp_path, section, message):
    file = tmp_path / "conf.yaml"
    import yaml

    file.write_text(yaml.safe_dump(section))
    with pytest.raises(ConfigError) as info:
        load_config(file)
    assert message in str(info.value)
    assert str(file) in str(info.value)


def test_lpot1_distillation_layout():
    cfg = parse_distillation(
        {
            "train": {
                "criterion": {
                    "KnowledgeDistillationLoss": {
                        "temperature": 4.0,
                        "loss_types": ["CE", "KL"],
                        "loss_weights": [0.3, 0.7],
                    }
                }
            }
        }
    )
    assert (cfg.temperature, cfg.loss_types, cfg.loss_weights) == (4.0, ("CE", "KL"), (0.3, 0.7))


def test_cubic_schedule_reaches_target_at_end_epoch_and_not_before():
    kw = {"target": 0.8, "start_epoch": 1, "end_epoch": 5}
    values = [sparsity_at(e, **kw) for e in range(7)]
    assert values[0] == 0.0 and values[5] == values[6] == pytest.approx(0.8)
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    assert values[2] - values[1] > values[4] - values[3]  # fast first, slow near the target
    assert sparsity_at(3, schedule="oneshot", **kw) == 0.8
    assert sparsity_at(3, schedule="linear", **kw) == pytest.approx(0.4)


def test_unstructured_and_channel_masks():
    rng = np.random.default_rng(0)
    scores = np.abs(rng.normal(size=(8, 4, 3, 3)))
    mask = parse_pattern("unstructured").mask(scores, 0.75)
    assert mask.shape == scores.shape and mask.mean() == pytest.approx(0.25, abs=0.01)
    assert scores[mask == 1].min() >= scores[mask == 0].max()
    ch = parse_pattern("channel").mask(scores, 0.5).reshape(8, -1)
    assert set(ch.min(1)) == set(ch.max(1)) and ch[:, 0].sum() == 4  # whole rows


def test_n_m_mask_keeps_n_of_every_m():
    scores = np.abs(np.random.default_rng(1).normal(size=(6, 16)))
    mask = parse_pattern("2:4").mask(scores, 0.5)
    groups = mask.reshape(6, 4, 4)
    assert (groups.sum(-1) == 2).all()
    top2 = np.sort(scores.reshape(6, 4, 4), -1)[..., 2:]
    kept = np.sort(np.where(groups == 1, scores.reshape(6, 4, 4), -1), -1)[..., 2:]
    np.testing.assert_allclose(kept, top2)


def test_block_mask_removes_whole_blocks():
    scores = np.abs(np.random.default_rng(2).normal(size=(4, 8)))
    mask = parse_pattern("1x4").mask(scores, 0.5)
    blocks = mask.reshape(4, 2, 4)
    assert ((blocks.sum(-1) == 0) | (blocks.sum(-1) == 4)).all()
    assert mask.mean() == pytest.approx(0.5)


def test_lpot1_train_and_weight_magnitude_layout():
    cfg = parse_pruning(
        {
            "train": {"start_epoch": 1, "end_epoch": 4, "optimizer": {"SGD": {"learning_rate": 0.1}}},
            "approach": {"weight_magnitude": {"initial_sparsity": 0.0, "target_sparsity": 0.97}},
        }
    )
    (p,) = cfg.pruners
    assert (p.method, p.target_sparsity, p.start_epoch, p.end_epoch) == ("magnitude", 0.97, 1, 4)


def test_a_pruner_updates_only_at_its_update_points_and_holds_the_target_after():
    from lpot.compression.config import PrunerSpec

    spec = PrunerSpec(target_sparsity=0.8, start_epoch=1, end_epoch=5, update_frequency=2)
    targets = [spec.target_at(epoch) for epoch in range(8)]
    assert targets[0] is None and targets[2] is None and targets[4] is None  # before start, between updates
    assert targets[1] == 0.0 and targets[3] == pytest.approx(0.7)  # cubic: 0.8 * (1 - 0.5**3)
    assert targets[5:] == [0.8, 0.8, 0.8]
    assert PrunerSpec(method="pattern_lock").target_at(3) is None
