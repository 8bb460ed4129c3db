"""LPOT 1.x scripts (``lpot.experimental`` and the top-level legacy call) on the numpy toy backend.

Each test is written the way a 1.x script was: ``Quantization('conf.yaml')``, ``common.Model``,
``common.DataLoader`` over a map-style dataset, ``q_model = quantizer()``.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import lpot
import toy_job
from lpot.errors import ConfigError, FeatureNotAvailableError, PluginError
from lpot.experimental import Benchmark, Quantization, common
from lpot.metric import BaseMetric
from lpot_toy.model import MLP, QuantizedMLP


class Blobs:
    """A 1.x map-style dataset: ``dataset[i] -> (input, label)``; ``shift`` offsets the labels."""

    def __init__(self, seed: int = 1, start: int = 0, stop: int = 200, shift: int = 0) -> None:
        x, y = toy_job.make_data(seed)
        self.x, self.y = x[start:stop], y[start:stop] + shift

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        return self.x[index], int(self.y[index])


class CountingAccuracy(BaseMetric):
    """A user metric as 1.x wrote them, counting its calls so the test sees it was used."""

    instances: list[CountingAccuracy] = []

    def __init__(self, *args) -> None:
        self.updates = 0
        self.reset()
        CountingAccuracy.instances.append(self)

    def update(self, preds, labels):
        self.updates += 1
        self.correct += int((np.asarray(preds).argmax(1) == np.asarray(labels)).sum())
        self.total += len(labels)

    def reset(self):
        self.correct = self.total = 0

    def result(self):
        return self.correct / self.total


class UndoShift:
    """A 1.x postprocess: called with one (predictions, labels) sample, returns the pair."""

    def __init__(self, shift: int) -> None:
        self.shift = shift

    def __call__(self, sample):
        preds, labels = sample
        return preds, np.asarray(labels) - self.shift


def _conf(tmp_path, body: str = "", name: str = "conf.yaml") -> str:
    path = tmp_path / name
    path.write_text(
        "model: {name: toy}\n"
        "quantization: {calibration: {sampling_size: 100}}\n"
        f"{body}"
        f"tuning:\n  accuracy_criterion: {{relative: 0.02}}\n  workspace: {{path: {tmp_path / 'ws'}}}\n"
    )
    return str(path)


TOPK = "evaluation:\n  accuracy:\n    metric: {topk: 1}\n"


def test_quantization_with_common_dataloaders_and_the_yaml_metric(tmp_path, toy_model):
    quantizer = Quantization(_conf(tmp_path, TOPK))
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    quantizer.eval_dataloader = common.DataLoader(Blobs(start=200, stop=400), batch_size=50)
    q_model = quantizer.fit()

    assert isinstance(q_model, common.Model) and q_model.framework == "toy"
    assert isinstance(q_model.model, QuantizedMLP)
    assert q_model.result.status == "met" and q_model.result.baseline_accuracy > 0.9
    saved = q_model.save(tmp_path / "out")
    assert saved.name == "model.mlp.npz"
    assert json.loads((tmp_path / "out" / "recipe.json").read_text())["ops"]


def test_a_user_metric_and_postprocess_are_what_the_tuning_evaluates(tmp_path, toy_model):
    """Labels shifted by 3 score ~0 unless the user's postprocess undoes the shift before the user's metric."""
    CountingAccuracy.instances.clear()
    quantizer = Quantization(_conf(tmp_path, TOPK))
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    quantizer.eval_dataloader = common.DataLoader(Blobs(start=200, stop=400, shift=3), batch_size=50)
    quantizer.metric = common.Metric(CountingAccuracy, "hello_metric")
    quantizer.postprocess = common.Postprocess(UndoShift, "undo_shift", shift=3)
    q_model = quantizer()

    (metric,) = CountingAccuracy.instances
    assert metric.updates >= 8  # 4 batches for FP32, 4 for the trial
    assert q_model.result.baseline_accuracy > 0.9  # the shift was undone
    from lpot.metrics import user

    assert user.registered("hello_metric") is None  # registered for that run only


def test_without_the_postprocess_the_shifted_labels_fail(tmp_path, toy_model):
    quantizer = Quantization(_conf(tmp_path, TOPK))
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    quantizer.eval_dataloader = common.DataLoader(Blobs(start=200, stop=400, shift=3), batch_size=50)
    quantizer.metric = common.Metric(CountingAccuracy, "hello_metric")
    assert quantizer().result.baseline_accuracy < 0.5


def _yaml_only(tmp_path, toy_model):
    """A model file and YAML-only dataloaders (the ``numpy`` dataset of an .npz)."""
    from lpot_toy.engine import save_file

    model_path = save_file(toy_model, tmp_path / "fp32" / "model.mlp.npz")
    x, y = toy_job.make_data(1)
    np.savez(tmp_path / "calib.npz", x=x[:200], y=y[:200])
    np.savez(tmp_path / "val.npz", x=x[200:], y=y[200:])
    body = (
        f"quantization:\n  calibration:\n    sampling_size: 100\n"
        f"    dataloader: {{batch_size: 50, dataset: {{numpy: {{data: {tmp_path / 'calib.npz'}}}}}}}\n"
        "evaluation:\n  accuracy:\n    metric: {topk: 1}\n"
        f"    dataloader: {{batch_size: 40, dataset: {{numpy: {{data: {tmp_path / 'val.npz'}}}}}}}\n"
        "  performance:\n    warmup: 1\n    iteration: 5\n"
        f"    dataloader: {{batch_size: 8, dataset: {{numpy: {{data: {tmp_path / 'val.npz'}}}}}}}\n"
    )
    conf = tmp_path / "yaml_only.yaml"
    conf.write_text(f"model: {{name: toy}}\n{body}tuning:\n  workspace: {{path: {tmp_path / 'ws'}}}\n")
    return str(conf), str(model_path)


def test_yaml_only_quantization_then_benchmark_prints_the_1x_summary(tmp_path, toy_model, capsys):
    conf, model_path = _yaml_only(tmp_path, toy_model)
    quantizer = Quantization(conf)
    quantizer.model = common.Model(model_path)
    q_model = quantizer()
    assert q_model.result.met

    evaluator = Benchmark(conf)
    evaluator.model = q_model  # the returned model goes straight in, as in 1.x scripts
    performance = evaluator("performance")
    accuracy = evaluator("accuracy")
    out = capsys.readouterr().out

    acc, batch_size, latencies = performance["performance"]
    assert acc is None and batch_size == 8 and len(latencies) == 1 and 0 < latencies[0] < 1
    assert "performance mode benchmark result:\nBatch size = 8\nLatency: " in out
    assert " ms\nThroughput: " in out and " images/sec" in out
    acc, batch_size, latencies = accuracy["accuracy"]
    assert acc == pytest.approx(q_model.result.accuracy) and batch_size == 40 and len(latencies) == 5
    assert f"accuracy mode benchmark result:\nBatch size = 40\nAccuracy is {acc:.4f}" in out
    assert evaluator.results.keys() == {"performance", "accuracy"}


def test_benchmark_b_func_is_the_accuracy_and_its_run_the_latency(tmp_path, toy_model, capsys):
    evaluator = Benchmark()
    evaluator.model = common.Model(toy_model)
    evaluator.b_func = lambda model: 0.5
    ((acc, batch_size, latencies),) = evaluator("accuracy").values()
    assert acc == 0.5 and batch_size == 1 and len(latencies) == 1
    assert "Accuracy is 0.5000" in capsys.readouterr().out


def test_legacy_top_level_call_returns_the_native_model(tmp_path, toy_model):
    calib, evals = toy_job.loaders()
    quantizer = lpot.Quantization(_conf(tmp_path, TOPK))
    q_model = quantizer(toy_model, q_dataloader=calib, eval_dataloader=evals)
    assert isinstance(q_model, QuantizedMLP)

    attribute_form = lpot.Quantization(_conf(tmp_path, TOPK))  # 1.2 set attributes on the top level
    attribute_form.model = common.Model(toy_model)
    attribute_form.calib_dataloader, attribute_form.eval_dataloader = calib, evals
    assert isinstance(attribute_form(), common.Model)

    conf, _ = _yaml_only(tmp_path, toy_model)
    benchmarker = lpot.Benchmark(conf)
    benchmarker.metric("hello_metric", CountingAccuracy)  # 1.x's method form
    results = benchmarker(q_model)
    assert results.keys() == {"accuracy", "performance"}
    assert results["accuracy"][0] > 0.9 and results["performance"][1] == 8


def test_legacy_methods_build_loaders_and_metrics(tmp_path, toy_model):
    quantizer = lpot.Quantization(_conf(tmp_path, TOPK))
    loader = quantizer.dataloader(Blobs(), batch_size=50)
    assert isinstance(loader, common.DataLoader) and len(loader) == 4
    quantizer.metric = common.Metric(CountingAccuracy)  # the 1.2 attribute form works too
    assert quantizer._metric.name == "user_metric"
    quantizer.postprocess("undo", UndoShift, shift=0)
    assert quantizer._postprocess.kwargs == {"shift": 0}


def test_no_evaluation_quantizes_once_unchecked_as_1x_did(tmp_path, toy_model, caplog):
    quantizer = Quantization(_conf(tmp_path))
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    with caplog.at_level(logging.WARNING, logger="lpot"):
        q_model = quantizer()
    assert "accuracy is NOT checked" in caplog.text
    assert len(q_model.result.trials) == 1 and isinstance(q_model.model, QuantizedMLP)


def test_objective_name_overrides_the_config(tmp_path, toy_model):
    quantizer = Quantization(_conf(tmp_path, TOPK))
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    quantizer.eval_dataloader = common.DataLoader(Blobs(start=200, stop=400), batch_size=50)
    quantizer.objective = "model_size"
    assert quantizer().result.objective_name == "model_size"
    with pytest.raises(ConfigError, match="objective takes an objective name"):
        quantizer.objective = 3


def test_dataset_by_its_lpot_name(tmp_path):
    quantizer = Quantization(_conf(tmp_path))
    dataset = quantizer.dataset("dummy", shape=[10, 16], label=True)
    batches = list(common.DataLoader(dataset, batch_size=4, last_batch="no_rollover"))
    assert [b[0].shape for b in batches] == [(4, 16), (4, 16), (2, 16)]
    with pytest.raises(ConfigError, match="by name"):
        quantizer.dataset("dummy", [10, 16])


# ------------------------------------------------------------------------- common.DataLoader
def test_dataloader_batches_like_1x():
    data = Blobs(stop=10)
    assert [len(b[1]) for b in common.DataLoader(data, batch_size=4)] == [4, 4]  # rollover drops 2
    assert [len(b[1]) for b in common.DataLoader(data, batch_size=4, last_batch="no_rollover")] == [4, 4, 2]
    x, y = next(iter(common.DataLoader(data, batch_size=3)))
    assert x.dtype == np.float32 and x.shape == (3, 16) and y.tolist() == data.y[:3].tolist()
    shuffled = common.DataLoader(data, batch_size=5, shuffle=True)
    first, second = [b[1].tolist() for b in shuffled], [b[1].tolist() for b in shuffled]
    assert first == second and sorted(sum(first, [])) == sorted(data.y.tolist())  # same order each pass
    picked = common.DataLoader(data, batch_size=2, sampler=[9, 8, 7, 6])
    assert [b[1].tolist() for b in picked] == [data.y[[9, 8]].tolist(), data.y[[7, 6]].tolist()]
    grouped = common.DataLoader(data, batch_sampler=[[0], [1, 2, 3]])
    assert [len(b[1]) for b in grouped] == [1, 3] and len(grouped) == 2
    summed = common.DataLoader(data, batch_size=5, collate_fn=lambda samples: len(samples))
    assert list(summed) == [5, 5]


def test_dataloader_over_iterable_and_dict_samples():
    class Stream:
        def __iter__(self):
            for i in range(5):
                yield {"a": np.full(2, i, np.float32), "b": np.zeros(1)}, i

    (x, y), (x2, y2) = common.DataLoader(Stream(), batch_size=3, last_batch="no_rollover")
    assert x["a"].shape == (3, 2) and y.tolist() == [0, 1, 2] and y2.tolist() == [3, 4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 20}, "make no full batch of 20"),
        ({"last_batch": "discard"}, "'rollover' or 'no_rollover'"),
        ({"batch_size": 0}, "positive integer"),
    ],
    ids=["rollover-drops-everything", "bad-last-batch", "zero-batch"],
)
def test_dataloader_errors_say_what_to_change(kwargs, message):
    with pytest.raises(lpot.LpotError, match=message):
        common.DataLoader(Blobs(stop=10), **kwargs)


# ------------------------------------------------------------------------- what lpot refuses, precisely
@pytest.mark.parametrize(("framework", "instead"), [("numpy_gpu", "use framework: numpy_mlp")])
def test_framework_names_a_backend_refuses_name_what_to_use(tmp_path, framework, instead):
    """Backends answer the LPOT names they cannot serve (pytorch_ipex, tensorflow_itex: see their
    sessions' tests) with a reason; the toy plugin shows the mechanism without a framework."""
    conf = tmp_path / "conf.yaml"
    conf.write_text(f"model: {{name: m, framework: {framework}}}\n")
    with pytest.raises(
        FeatureNotAvailableError, match=rf"conf\.yaml: model\.framework .{framework}.: .*{instead}"
    ):
        Quantization(str(conf))


@pytest.mark.parametrize("component", ["Graph_Optimization", "GraphOptimization", "MixedPrecision"])
def test_graph_optimization_collects_the_request(tmp_path, toy_model, component):
    import lpot.experimental as experimental

    optimizer = getattr(experimental, component)()
    optimizer.precisions = "bf16, fp32"
    optimizer.input, optimizer.output = "x", ["y"]
    optimizer.model = common.Model(toy_model)
    assert optimizer.request().precisions == ("bf16", "fp32") and optimizer.request().inputs == ("x",)


def test_mixed_precision_reads_its_yaml_section(tmp_path):
    from lpot.experimental import MixedPrecision

    assert MixedPrecision().precisions == ("bf16",)
    conf = tmp_path / "mp.yaml"
    conf.write_text("model: {name: m}\nmixed_precision: {precisions: [BF16, fp32]}\n")
    assert MixedPrecision(str(conf)).precisions == ("bf16", "fp32")


def test_what_lpot_does_not_have_is_named(tmp_path, toy_model):
    q_model = common.Model(toy_model)
    with pytest.raises(FeatureNotAvailableError, match="TFLite model"):
        _ = q_model.graph_def
    with pytest.raises(FeatureNotAvailableError, match="Scheduler is not available: run the components"):
        from lpot.experimental import Scheduler  # noqa: F401
    (tmp_path / "frozen.pb").write_bytes(b"")
    with pytest.raises(FeatureNotAvailableError, match="TF1 frozen graph"):
        common.Model(str(tmp_path / "frozen.pb"))
    from lpot.experimental import Pruning

    prune = Pruning(_conf(tmp_path, "pruning: {target_sparsity: 0.5}\n"))
    prune.model = q_model
    with pytest.raises(FeatureNotAvailableError, match="supports PyTorch models, not 'toy'"):
        prune()


def test_misuse_gets_one_precise_error(tmp_path, toy_model):
    quantizer = Quantization(_conf(tmp_path))
    with pytest.raises(ConfigError, match=r"Quantization\.model is not set"):
        quantizer()
    with pytest.raises(ConfigError, match="takes lpot.experimental.common.Metric"):
        quantizer.metric = CountingAccuracy
    with pytest.raises(ConfigError, match="lacks update"):
        common.Metric(MLP)
    with pytest.raises(lpot.LpotError, match="must be an iterable"):
        quantizer.calib_dataloader = 3
    with pytest.raises(ConfigError, match="takes the model alone"):
        common.Model(toy_model, input_fn=None)
    with pytest.raises(lpot.LpotError, match="does not exist"):
        common.Model(str(tmp_path / "missing.onnx"))
    conf = tmp_path / "onnx.yaml"
    conf.write_text("model: {name: m, framework: onnxrt_qlinearops}\n")
    with pytest.raises(ConfigError, match="model.framework is 'onnxrt_qlinearops' .* a 'toy' model"):
        Quantization(str(conf)).model = common.Model(toy_model)


def test_a_1x_snapshot_to_resume_from_is_never_read(tmp_path, toy_model, caplog):
    snapshot = tmp_path / "history.snapshot"
    snapshot.write_bytes(b"\x80\x04pickle")
    conf = tmp_path / "resume.yaml"
    conf.write_text(f"model: {{name: toy}}\ntuning:\n  workspace: {{path: {tmp_path}, resume: {snapshot}}}\n")
    with caplog.at_level("WARNING", logger="lpot"):
        quantizer = Quantization(str(conf))
    assert (
        "tuning.workspace.resume is ignored: it names LPOT's pickled snapshot, which lpot never unpickles"
        in caplog.text
    )
    quantizer.model = common.Model(toy_model)
    quantizer.calib_dataloader = common.DataLoader(Blobs(), batch_size=50)
    assert quantizer() is not None and snapshot.read_bytes() == b"\x80\x04pickle"


def test_pytorch_load_without_lpot_pytorch_names_the_package(tmp_path):
    from lpot.utils.pytorch import load

    (tmp_path / "recipe.json").write_text("{}")
    with pytest.raises(PluginError, match="pip install lpot-pytorch"):
        load(tmp_path, object())


# ------------------------------------------------------------------------- 1.x pruning YAML
PRUNING_YAML = """\
model: {name: net, framework: pytorch}
pruning:
  train: {start_epoch: 0, end_epoch: 4, iteration: 10}
  approach:
    weight_compression:
      initial_sparsity: 0.0
      target_sparsity: 0.9
      start_epoch: 0
      end_epoch: 4
      pruners:
        - !Pruner
            start_epoch: 1
            end_epoch: 3
            prune_type: basic_magnitude
            names: ['layer1.0.conv1.weight']
        - !Pruner
            target_sparsity: 0.6
            prune_type: gradient_sensitivity
            update_frequency: 2
            names: ['fc*']
"""


def test_pruner_tags_load_as_plain_data(tmp_path):
    from lpot.compression.config import pruning_config

    conf = tmp_path / "prune.yaml"
    conf.write_text(PRUNING_YAML)
    cfg = lpot.load_config(str(conf))
    first = cfg.extra_sections["pruning"]["approach"]["weight_compression"]["pruners"][0]
    assert type(first) is dict and first["names"] == ["layer1.0.conv1.weight"]
    magnitude, sensitivity = pruning_config(cfg).pruners
    assert (magnitude.method, magnitude.target_sparsity, magnitude.start_epoch) == ("magnitude", 0.9, 1)
    assert (sensitivity.method, sensitivity.target_sparsity, sensitivity.update_frequency) == (
        "gradient_sensitivity",
        0.6,
        2,
    )
    assert magnitude.selects("layer1.0.conv1") and not magnitude.selects("layer1.0.conv2")
    assert sensitivity.selects("fc1")


@pytest.mark.parametrize(
    "text",
    ["pruners: [!Pruner 3]\n", "x: !!python/object/apply:os.system ['true']\n"],
    ids=["tag-on-a-scalar", "python-object"],
)
def test_other_tags_are_still_refused(tmp_path, text):
    conf = tmp_path / "bad.yaml"
    conf.write_text(text)
    with pytest.raises(ConfigError, match="malformed YAML at line 1"):
        lpot.load_config(str(conf))
