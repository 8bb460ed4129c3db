"""The backend conformance suite: what every lpot backend must do, shown on a small real model.

A backend's test folder subclasses :class:`BackendConformance` and provides fixtures:
``backend`` (the core adapter around the registered engine: ``lpot.plugins.backend_by_name(name)``),
``model`` (a small native FP32 model, already ``backend.load``-ed), ``calib_loader`` /
``eval_loader`` (re-iterable ``(inputs, labels)`` numpy batches) and ``probe`` (a
:class:`LowPrecisionProbe` that reads, in the framework's own terms, which ops compute in INT8).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lpot import plugins
from lpot.backend import Backend
from lpot.data import split_batch
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import FeatureNotAvailableError
from lpot.recipe import OpKey, Recipe
from lpot.space import TuningSpace, build_space

STATIC = "post_training_static_quant"


@dataclass(frozen=True)
class LowPrecisionProbe:
    """How to see low precision in one framework.

    ``int8_ops(model)``: names of the ops that compute in INT8 in a quantized native model.
    ``weight_bytes(model)``: total bytes of the weights as stored (INT8 weights are 1 byte each).
    """

    int8_ops: Callable[[Any], set[str]]
    weight_bytes: Callable[[Any], int]


def space_of(backend: Backend, model: Any) -> TuningSpace:
    return build_space(backend.capability(model), approach=STATIC)


def default_recipe(backend: Backend, model: Any) -> Recipe:
    return space_of(backend, model).default_recipe()


def quantize(backend: Backend, model: Any, recipe: Recipe, stats: dict[str, Stats], **kwargs: Any) -> Any:
    return backend.quantize(model, recipe, stats, space_of(backend, model).tensors, **kwargs)


def stats_for(
    backend: Backend,
    model: Any,
    space: TuningSpace,
    recipe: Recipe,
    loader: Any,
    cache: dict[CalibrationSpec, Stats],
) -> dict[str, Stats]:
    """The statistics a recipe needs, as the core's calibration store computes them: one
    calibration per algorithm and per value of the engine's calibrated options."""
    graph = tuple(sorted((k, v) for k, v in recipe.options.items() if k in space.calibrated_options))
    out = {}
    for algorithm in sorted(recipe.calibration_algorithms() | {"minmax"}):
        spec = CalibrationSpec(algorithm=algorithm, sampling_size=64, graph=graph)
        if spec not in cache:
            cache[spec] = backend.calibrate(model, loader, spec)
        out[algorithm] = cache[spec]
    return out


def first_output(backend: Backend, model: Any, inputs: Any) -> np.ndarray:
    return np.asarray(next(iter(backend.outputs(model, inputs).values())))


def outputs(backend: Backend, model: Any, loader: Any) -> np.ndarray:
    return np.concatenate([first_output(backend, model, split_batch(b)[0]) for b in loader])


def variations(space: TuningSpace) -> list[tuple[str, Recipe]]:
    """The default recipe changed in one place: each op's other configs, each option's other values."""
    base = space.default_recipe()
    out = []
    for op in space.tunable_ops:
        for config in space.choices[op][1:]:
            out.append((f"{op.name}: {config.to_dict()}", base.with_ops({op: config})))
    for key, values in space.options.items():
        for value in values[1:]:
            if value in space.last_resort.get(key, ()):
                continue
            out.append(
                (f"{key}={value}", Recipe(**{**base.__dict__, "options": {**base.options, key: value}}))
            )
    return out


class BackendConformance:
    """Tests every backend must pass; each one can fail on a backend that only pretends."""

    @pytest.fixture
    def stats(self, backend, model, calib_loader) -> dict[str, Stats]:
        return {
            "minmax": backend.calibrate(
                model, calib_loader, CalibrationSpec(algorithm="minmax", sampling_size=64)
            )
        }

    @pytest.fixture
    def quantized(self, backend, model, stats):
        return quantize(backend, model, default_recipe(backend, model), stats)

    def test_the_registered_engine_keeps_the_contract(self, backend):
        assert plugins.engine_problems(backend.engine) == []
        assert backend.registered in plugins.available("lpot.backends")
        for alias, settings in backend.engine.aliases.items():
            if plugins.UNAVAILABLE in settings:  # a name it answers with its reason
                with pytest.raises(FeatureNotAvailableError, match=alias):
                    plugins.backend_for_framework(alias)
                continue
            found, implied = plugins.backend_for_framework(alias)
            assert found.name == backend.name and implied == settings, alias

    def test_accepts_its_model_and_rejects_others(self, backend, model):
        assert backend.accepts(model)
        assert not backend.accepts(object())
        assert not backend.accepts(3.14)

    def test_capability_lists_ops_in_seed_format(self, backend, model):
        cap = backend.capability(model)
        assert cap.opwise, "no quantizable op found"
        seed = cap.to_dict()
        assert set(seed) >= {"optypewise", "opwise"}
        for choices in seed["opwise"].values():
            assert "dtype" in choices["activation"]
            assert any(d in ("int8", "uint8") for d in choices["activation"]["dtype"])
        json.dumps(seed)  # plain data

    def test_default_recipe_really_computes_in_int8(self, backend, model, quantized, probe):
        recipe = default_recipe(backend, model)
        int8 = probe.int8_ops(quantized)
        assert int8, "the quantized model has no INT8 op"
        assert probe.int8_ops(model) == set(), "the FP32 model must have no INT8 op"
        weighted = {op.name for op, cfg in recipe.ops.items() if cfg.is_quantized and cfg.weight is not None}
        assert weighted <= int8, f"ops with weights left in FP32: {sorted(weighted - int8)}"

    def test_outputs_close_to_fp32(self, backend, model, quantized, eval_loader):
        ref, got = outputs(backend, model, eval_loader), outputs(backend, quantized, eval_loader)
        assert ref.shape == got.shape
        agreement = float((ref.argmax(-1) == got.argmax(-1)).mean())
        assert agreement >= 0.95, f"top-1 agreement with FP32 only {agreement:.3f}"
        rel = float(np.linalg.norm(got - ref) / (np.linalg.norm(ref) + 1e-12))
        assert rel < 0.1, f"relative output error {rel:.3f}"

    def test_int8_weights_shrink_the_model(self, backend, model, quantized, probe):
        assert backend.model_size(quantized) < 0.5 * backend.model_size(model)
        assert probe.weight_bytes(quantized) < 0.3 * probe.weight_bytes(model)

    def test_named_op_falls_back_and_stays_fp32(self, backend, model, stats, probe, eval_loader):
        recipe = default_recipe(backend, model)
        target = next(op for op, cfg in recipe.ops.items() if cfg.is_quantized and cfg.weight is not None)
        result = quantize(backend, model, recipe.fallback([target]), stats)
        int8 = probe.int8_ops(result)
        assert target.name not in int8
        assert int8, "falling back one op must leave the others in INT8"
        assert outputs(backend, result, eval_loader).shape == outputs(backend, model, eval_loader).shape

    def test_stats_are_plain_data_and_quantize_does_not_recalibrate(self, backend, model, stats):
        spec_stats = stats["minmax"]
        # as the calibration store keeps them: ranges as JSON, an engine's artifacts as files
        again = Stats.from_dict(json.loads(json.dumps(spec_stats.to_dict())), dict(spec_stats.artifacts))
        assert again == spec_stats and spec_stats.samples_seen == 64
        assert all(
            math.isfinite(lo) and math.isfinite(hi) and lo <= hi for lo, hi in spec_stats.ranges.values()
        )
        recipe = default_recipe(backend, model)
        a = quantize(backend, model, recipe, {"minmax": again})
        b = quantize(backend, model, recipe, {"minmax": again}, calibration=_ExplodingLoader())
        assert backend.model_size(a) == backend.model_size(b)
        assert backend.fingerprint(a) == backend.fingerprint(b)

    def test_recipes_that_differ_give_models_that_differ(self, backend, model, calib_loader):
        """Honest capability: the space never offers two recipes that build the same model."""
        space = space_of(backend, model)
        cache: dict[CalibrationSpec, Stats] = {}

        def stats(recipe: Recipe) -> dict[str, Stats]:
            return stats_for(backend, model, space, recipe, calib_loader, cache)

        def build(recipe: Recipe) -> str:
            return backend.fingerprint(
                quantize(backend, model, recipe, stats(recipe), calibration=calib_loader)
            )

        default = space.default_recipe()
        base = build(default)
        same = [
            label
            for label, recipe in variations(space)
            if build(recipe) == base
            and not _same_ranges(space, default, recipe, {**stats(default), **stats(recipe)})
        ]
        assert not same, f"these differ from the default recipe but build the same model: {same}"

    def test_save_load_round_trip(self, backend, quantized, eval_loader, tmp_path: Path):
        file = backend.save(quantized, tmp_path)
        assert Path(file).exists()
        loaded = backend.read(file)
        np.testing.assert_array_equal(
            outputs(backend, loaded, eval_loader), outputs(backend, quantized, eval_loader)
        )

    def test_inspect_returns_per_op_tensors(self, backend, model, quantized, calib_loader):
        recipe = default_recipe(backend, model)
        weighted = [op for op, cfg in recipe.ops.items() if cfg.weight is not None]
        ops = [weighted[0], weighted[-1]]
        ref = backend.inspect(model, calib_loader, ops)
        got = backend.inspect(quantized, calib_loader, ops)
        for op in ops:
            assert ref[op.name].shape == got[op.name].shape
            assert ref[op.name].dtype == np.float32
        # The last weighted op (the classifier) has no activation that INT8 kernels could fuse in,
        # so its dequantized output must match FP32 closely.
        last = ops[-1].name
        err = np.linalg.norm(got[last] - ref[last]) / (np.linalg.norm(ref[last]) + 1e-12)
        assert err < 0.1, f"{last}: quantized output too far from FP32 ({err:.3f})"
        errors = backend.op_errors(model, quantized, ops, calib_loader)
        assert set(errors) == {op.name for op in ops} and errors[last] < 0.01

    def test_benchmark_reports_positive_figures(self, backend, quantized, eval_loader):
        result = backend.benchmark(quantized, eval_loader, warmup=1, iterations=5)
        assert result.latency_ms > 0 and result.throughput > 0 and result.batch_size > 0


def _same_ranges(space: TuningSpace, a: Recipe, b: Recipe, stats: dict[str, Stats]) -> bool:
    """Two recipes that differ only in one op's calibration algorithm, where both algorithms found
    the same ranges for that op's tensors: equal models by the data, not by the space."""
    changed = [op for op in space.ops if a.op(op) != b.op(op)]
    if len(changed) != 1 or a.options != b.options:
        return False
    op = changed[0]
    if a.op(op).weight != b.op(op).weight or a.op(op).activation.dtype != b.op(op).activation.dtype:
        return False
    first, second = stats[a.algorithm_of(op) or "minmax"], stats[b.algorithm_of(op) or "minmax"]
    tensors = space.tensors.get(op.name, ())
    return bool(tensors) and all(first.ranges.get(t) == second.ranges.get(t) for t in tensors)


class _ExplodingLoader:
    """Passed as quantize()'s calibration data: a static quantizer that reads it is recalibrating
    behind lpot's back."""

    def __iter__(self):
        raise AssertionError("quantize() read calibration data: it must use the given Stats")


__all__ = ["BackendConformance", "LowPrecisionProbe", "OpKey"]


class TuningConformance:
    """Tuning through ``lpot.tune`` with a backend: one calibration per spec, however many trials."""

    def test_calibration_runs_once_per_spec_across_a_fallback_search(
        self, backend, model, calib_loader, eval_loader, probe, tmp_path: Path
    ):
        import lpot

        recipe = default_recipe(backend, model)
        sensitive = next(
            op.name for op, cfg in recipe.ops.items() if cfg.is_quantized and cfg.weight is not None
        )
        reference = outputs(backend, model, eval_loader).argmax(-1)

        def agreement_unless_sensitive_is_int8(m: Any) -> float:
            """Top-1 agreement with FP32, minus 0.5 while ``sensitive`` computes in INT8."""
            agree = float((outputs(backend, m, eval_loader).argmax(-1) == reference).mean())
            return agree - (0.5 if sensitive in probe.int8_ops(m) else 0.0)

        result = lpot.tune(
            model,
            q_dataloader=calib_loader,
            eval_func=agreement_unless_sensitive_is_int8,
            config={"tuning": {"workspace": {"path": str(tmp_path)}}},
            backend=backend,
            progress=False,
        )
        assert result.status == "met"
        assert sensitive not in probe.int8_ops(result.model) and probe.int8_ops(result.model)
        specs = {
            (a, t.recipe.calib_sampling_size)
            for t in result.trials
            for a in t.recipe.calibration_algorithms()
        }
        assert len(result.trials) > len(specs)
        assert result.calibration_passes == len(specs)
