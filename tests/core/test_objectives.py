"""Objectives: robust latency (warm-up, median of repeats), throughput, the weighted form."""

from __future__ import annotations

import json

import pytest

import lpot
import toy_job
from lpot.config import load_config
from lpot.errors import ConfigError
from lpot.instances import BenchmarkResult
from lpot.objectives import Performance, Throughput, Weighted, bind_reference, create_objective
from lpot_toy.engine import toy_backend


class ScriptedBackend:
    """Benchmarks return the scripted latencies in turn; model sizes come from the model."""

    def __init__(self, latencies):
        self.latencies = list(latencies)
        self.calls = []

    def benchmark(self, model, dataloader, *, warmup=1, iterations=5, **_):
        self.calls.append((warmup, iterations))
        latency = self.latencies.pop(0)
        return BenchmarkResult(
            latency_ms=latency,
            latency_p90_ms=latency,
            throughput=8000 / latency,
            batch_size=8,
            iterations=iterations,
        )

    def model_size(self, model):
        return model["size"]


def test_latency_is_the_median_of_repeats_after_a_warm_up():
    backend = ScriptedBackend([10.0, 500.0, 11.0])  # one noisy repeat of three
    perf = Performance(repeats=3, iterations=13, min_iterations=5, budget_s=10)
    assert perf.measure(backend, {}, []) == 11.0
    assert backend.calls == [(3, 5), (1, 4), (1, 4)]  # warm-up first; the first repeat sizes the rest
    assert not perf.higher_is_better and perf.unit == "ms"
    slow = ScriptedBackend([400.0, 400.0, 400.0])
    Performance(repeats=3, iterations=20, min_iterations=5, budget_s=2).measure(slow, {}, [])
    assert slow.calls == [(3, 5), (1, 1), (1, 1)]  # a 2 s budget affords 5 runs of 400 ms, plus one each


def test_throughput_mode_and_entry_point():
    backend = ScriptedBackend([4.0, 4.0, 4.0])
    tp = create_objective("throughput", repeats=3)
    assert isinstance(tp, Throughput) and tp.higher_is_better and tp.unit == "samples/s"
    assert tp.measure(backend, {}, []) == pytest.approx(8 * 1000 / 4.0)
    with pytest.raises(ConfigError, match="mode must be"):
        Performance(mode="fast")
    with pytest.raises(ConfigError, match="repeats must be"):
        Performance(repeats=0)


def test_weighted_normalises_by_the_first_model_measured():
    backend = ScriptedBackend([10.0] * 3 + [5.0] * 3 + [20.0] * 3)
    weighted = create_objective(
        {"performance": 7, "model_size": 3}, objectives={"performance": Performance(repeats=3)}
    )
    assert isinstance(weighted, Weighted) and weighted.weights == pytest.approx(
        {"performance": 0.7, "model_size": 0.3}
    )
    assert weighted.measure(backend, {"size": 1000}, []) == pytest.approx(1.0)  # FP32: the reference
    assert weighted.reference == {"performance": 10.0, "model_size": 1000.0}
    # twice as fast, a quarter of the size
    assert weighted.measure(backend, {"size": 250}, []) == pytest.approx(0.7 * 0.5 + 0.3 * 0.25)
    assert weighted.last == {"performance": 5.0, "model_size": 250.0}
    assert weighted.measure(backend, {"size": 1000}, []) == pytest.approx(0.7 * 2 + 0.3)


def test_weighted_measures_its_reference_model_first_when_it_was_not_the_first_measured():
    """A resumed run, or a parallel worker, measures a quantized model before any FP32 one."""
    backend = ScriptedBackend([10.0] * 3 + [5.0] * 3)
    fp32, int8 = {"size": 1000}, {"size": 250}
    weighted = bind_reference(create_objective({"performance": 1, "model_size": 1}), fp32)
    weighted.parts["performance"] = Performance(repeats=3)
    assert weighted.measure(backend, int8, []) == pytest.approx(0.5 * 0.5 + 0.5 * 0.25)
    assert weighted.reference == {"performance": 10.0, "model_size": 1000.0}
    assert bind_reference(Performance(), fp32).name == "performance"  # other objectives: unchanged


def test_weighted_orients_higher_is_better_parts():
    backend = ScriptedBackend([10.0] * 3 + [5.0] * 3)
    weighted = Weighted({"throughput": 1, "model_size": 1}, objectives={"throughput": Throughput(repeats=3)})
    weighted.set_reference(backend, {"size": 100}, [])
    assert weighted.measure(backend, {"size": 100}, []) == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)


def test_one_objective_in_mapping_form_is_that_objective():
    assert create_objective({"model_size": 1.0}).name == "model_size"


def test_config_accepts_the_weighted_form_and_checks_weights(tmp_path):
    cfg = load_config({"tuning": {"objective": {"performance": 0.7, "model_size": 0.3}}})
    assert cfg.tuning.objective == {"performance": 0.7, "model_size": 0.3}
    assert json.loads(json.dumps(cfg.to_dict()))["tuning"]["objective"] == {
        "performance": 0.7,
        "model_size": 0.3,
    }
    assert (
        cfg.hash() != load_config({"tuning": {"objective": {"performance": 0.5, "model_size": 0.5}}}).hash()
    )
    with pytest.raises(ConfigError, match=r"tuning.objective.model_size.*weight > 0"):
        load_config({"tuning": {"objective": {"performance": 0.7, "model_size": 0}}})
    with pytest.raises(ConfigError, match=r"tuning.objective.*name: weight"):
        load_config({"tuning": {"objective": {}}})
    conf = tmp_path / "c.yaml"
    conf.write_text("tuning:\n  objective: {performance: 0.7, model_size: 0.3}\n")
    assert load_config(str(conf)).tuning.objective == {"performance": 0.7, "model_size": 0.3}


def test_tuning_with_a_weighted_objective(tmp_path, toy_model, toy_loaders):
    calib, evals = toy_loaders
    evaluate = toy_job.PenalizingEval(("fc2",))
    cfg = toy_job.config(tmp_path, objective={"performance": 0.5, "model_size": 0.5})
    result = lpot.tune(toy_model, q_dataloader=calib, eval_func=evaluate, config=cfg, progress=False)
    assert result.status == "met" and result.objective_name == "weighted"
    assert result.baseline_objective == pytest.approx(1.0)
    assert all(t.objective is not None and t.objective > 0 for t in result.trials)
    size_ratio = toy_backend().model_size(result.model) / toy_backend().model_size(toy_model)
    assert 0.5 * size_ratio < result.objective  # the size half alone is at least this much
    events = [json.loads(line) for line in (tmp_path / "run.log.jsonl").read_text().splitlines()]
    parts = [e for e in events if e.get("event") == "weighted objective"]
    assert len(parts) == len(result.trials) + 1 and {"performance", "model_size", "score"} <= set(parts[0])


class _DriftingMachine:
    """A backend whose every benchmark gets slower (load rising), the candidate always 2x faster
    than FP32 at the same moment: what a shared machine does to latencies measured apart."""

    def __init__(self, fp32: object) -> None:
        self.fp32, self.calls = fp32, 0

    def benchmark(self, model, dataloader, *, warmup=0, iterations=1, **_):
        self.calls += 1
        base = 10.0 * (1 + 0.2 * self.calls)  # the load rises call after call
        latency = base if model is self.fp32 else base / 2
        return BenchmarkResult(
            latency_ms=latency, latency_p90_ms=latency, throughput=1000 / latency, batch_size=4, iterations=1
        )


def test_latency_is_measured_against_fp32_so_a_drifting_machine_keeps_the_ratio():
    from lpot.objectives import Performance, bind_reference, objective_parts

    fp32, tuned = object(), object()
    machine = _DriftingMachine(fp32)
    objective = bind_reference(Performance(repeats=1, spread=0.01, min_rounds=3), fp32)
    baseline = objective.measure(machine, fp32, [])
    later = [objective.measure(machine, tuned, []) for _ in range(3)]
    # measured apart, the tuned model would look ever slower (the load grows); against FP32 it is
    # half the FP32 baseline every time, and the spread of the ratio says how sure that is
    assert later == pytest.approx([baseline / 2] * 3)
    parts = objective_parts(objective, later[-1])
    assert parts["ratio_to_fp32"] == pytest.approx(0.5) and parts["spread"] == pytest.approx(0.0)
    assert parts["rounds"] == 3 and objective.batch_size == 4
