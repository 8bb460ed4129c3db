"""``lpot.optimize`` (issue 18 §5) through the core and the toy backend: FP32 rewrites, accuracy-
driven BF16 with op-by-op fallback, precise refusals, the CLI and LPOT 1.x's Graph_Optimization."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lpot
import toy_job
from lpot.cli import main
from lpot.errors import ConfigError
from lpot.experimental import common


def _exact(model, reference, name):
    (w,) = [w for n, w, _ in model.layers if n == name]
    (ref,) = [w for n, w, _ in reference.layers if n == name]
    return np.array_equal(w, ref)


def test_fp32_optimization_computes_the_same_function(toy_model, toy_loaders):
    _, evals = toy_loaders
    result = lpot.optimize(toy_model, "fp32", bench_dataloader=evals)
    x = np.concatenate([b[0] for b in evals])
    np.testing.assert_array_equal(result.model(x), toy_model(x))
    assert result.precisions == ("fp32",) and not result.low_precision_ops
    assert result.fp32_ms > 0 and result.optimized_ms > 0 and result.batch_size == 50
    assert "faster" in result.summary() or "slower" in result.summary()


def test_bf16_puts_every_layer_in_bf16_when_accuracy_allows(toy_model, toy_loaders):
    _, evals = toy_loaders
    result = lpot.optimize(
        toy_model,
        "bf16, fp32",
        eval_dataloader=evals,
        config={"evaluation": {"accuracy": {"metric": {"topk": 1}}}},
    )
    names = tuple(n for n, _, _ in toy_model.layers)
    assert result.low_precision_ops == names and result.kept_fp32 == ()
    assert not any(_exact(result.model, toy_model, n) for n in names)  # really rounded
    assert abs(result.accuracy - result.baseline_accuracy) <= 0.01 * result.baseline_accuracy


def test_bf16_gives_ops_back_to_fp32_one_at_a_time_until_the_goal_holds(toy_model):
    first = toy_model.layers[0][0]

    def eval_func(model):  # a model that cannot take its first layer in BF16
        return 1.0 if _exact(model, toy_model, first) else 0.5

    result = lpot.optimize(toy_model, ["bf16", "fp32"], eval_func=eval_func)
    assert result.kept_fp32 == (first,) and first not in result.low_precision_ops
    assert result.accuracy == 1.0 and len(result.low_precision_ops) == len(toy_model.layers) - 1


def test_what_optimize_does_not_do_is_refused_precisely(toy_model):
    with pytest.raises(ConfigError, match="int8 is quantization; use lpot.tune"):
        lpot.optimize(toy_model, "int8")
    with pytest.raises(ConfigError, match=r"unknown \['int4'\]"):
        lpot.optimize(toy_model, "int4, fp32")


def test_saved_atomically_with_its_figures(tmp_path, toy_model, toy_loaders):
    _, evals = toy_loaders
    result = lpot.optimize(toy_model, "fp32", bench_dataloader=evals, output=tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert result.path.exists() and summary["precisions"] == ["fp32"]
    assert summary["latency_ms"]["optimized"] > 0 and summary["batch_size"] == 50


def test_cli_optimize_reads_the_lpot_yaml_precisions(tmp_path, toy_model, capsys):
    from lpot_toy.engine import ToyEngine

    model = ToyEngine().save(toy_model, tmp_path)
    x, _ = toy_job.make_data(1)
    np.savez(tmp_path / "d.npz", x=x[:100])
    conf = tmp_path / "conf.yaml"
    conf.write_text("model: {name: m}\ngraph_optimization: {precisions: 'bf16, fp32'}\n")
    out = tmp_path / "optimized"
    code = main(
        [
            "optimize",
            str(conf),
            "--model",
            str(model),
            "--data",
            str(tmp_path / "d.npz"),
            "--output",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "precisions: bf16, fp32" in printed and "ms per batch of 1" in printed
    assert (out / "summary.json").exists() and (out / "model.mlp.npz").exists()
    assert (
        main(["optimize", "--model", str(model), "--output", str(tmp_path / "o2"), "--precisions", "int4"])
        == 2
    )


@pytest.mark.parametrize("component", ["Graph_Optimization", "GraphOptimization", "MixedPrecision"])
def test_lpot_1x_graph_optimization_runs_lpot_optimize(toy_model, component):
    import lpot.experimental as experimental

    optimizer = getattr(experimental, component)()
    optimizer.precisions = "bf16, fp32"
    optimizer.model = common.Model(toy_model)
    optimized = optimizer()
    assert isinstance(optimized, common.Model) and optimized.framework == "toy"
    x, _ = toy_job.make_data(1)
    assert not np.array_equal(optimized.model(x[:10]), toy_model(x[:10]))  # BF16 weights
    with pytest.raises(ConfigError, match="unknown"):
        optimizer.precisions = "int4"
