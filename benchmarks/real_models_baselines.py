"""FP32 baselines and hand-made INT8 paths on the real-model zoo, measured side by side in one run.

What lpot's tuned models will be held against (issue 17): per zoo model,
- FP32: torch eager and ONNX Runtime (2 threads, intra-op spinning off);
- the hand-made INT8 paths: ORT ``quantize_static`` QDQ per-channel U8S8 and S8S8 after
  ``quant_pre_process`` (MinMax), ORT ``quantize_dynamic`` (MiniLM, per-tensor and per-channel),
  torch FX ``prepare_fx``/``convert_fx`` with the x86 qconfig mapping (it cannot trace BertModel),
  torch pt2e by hand (export, X86InductorQuantizer, ``torch.compile`` with freezing), torch dynamic
  (MiniLM);
- lpot's static INT8: on MiniLM tuned (basic, up to 8 trials, cosine >= 0.99, the same 4
  calibration batches as pt2e by hand) through pt2e (``lowering="auto"`` picks it) and returned
  compiled by inductor; on the residual CNN one trial through each lowering (the measurement
  behind ``auto``);
- metric vs FP32 (top-1 agreement on photo crops; mean embedding cosine on sentences), latency at
  batch 1 and 16 (8 for text, sequence 128) and each path's speed-up over torch eager and ORT FP32.
Every variant of a model is timed in the same rounds, interleaved, so machine load hits all alike;
the spread column is the inter-quartile range of the rounds over their median.

Run: ``nox -s bench_real_models`` or ``python benchmarks/real_models_baselines.py [--quick]`` with
torch 2.13, onnxruntime and ``tests/zoo[onnx]`` installed.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# torch's OpenMP threads spin-wait between ops by default: on a shared, loaded machine that made
# EfficientNet-Lite0 eager 2262 ms per image instead of 50 ms (measured, load average 11). PASSIVE
# is torch's counterpart of ORT's allow_spinning=0; it must be set before torch loads libgomp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
from lpot_zoo.agreement import evaluate, mean_cosine, top1, top1_agreement
from lpot_zoo.batches import Batches
from lpot_zoo.exports import efficientnet_onnx, minilm_onnx, ort_predictor
from lpot_zoo.torch_run import predictor
from onnxruntime.quantization import (  # noqa: E402
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from lpot.report import table  # noqa: E402

THREADS = 2
Run = Callable[[Any], np.ndarray]


@dataclass
class Variant:
    """One way to run the model: its runner, its metric vs FP32, or why it does not exist."""

    name: str
    run: Run | None
    metric: float | None = None
    note: str = ""
    ms: dict[int, float] = field(default_factory=dict)
    spread: dict[int, float] = field(default_factory=dict)


class _Reader(CalibrationDataReader):
    def __init__(self, batches: Batches, input_name: str | None) -> None:
        self._feeds = iter([x if isinstance(x, dict) else {input_name: x} for x, _ in batches])

    def get_next(self) -> Any:
        return next(self._feeds, None)


def _try(name: str, build: Callable[[], Run]) -> Variant:
    """A variant whose construction may fail (a path that cannot handle the model): say why."""
    try:
        return Variant(name, build())
    except Exception as exc:  # the table reports it instead of stopping the benchmark
        return Variant(name, None, note=f"{type(exc).__name__}: {str(exc).splitlines()[0][:70]}")


def _ort_static(src: Path, calib: Batches, activation: QuantType, work: Path, **pre: Any) -> Run:
    pre_path, out = work / "pre.onnx", work / f"static-{activation.name}.onnx"
    if not pre_path.exists():
        quant_pre_process(str(src), str(pre_path), **pre)
    quantize_static(
        str(pre_path),
        str(out),
        _Reader(calib, "images"),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=activation,
        weight_type=QuantType.QInt8,
    )
    return ort_predictor(out, threads=THREADS)


def _ort_dynamic(src: Path, per_channel: bool, work: Path) -> Run:
    out = work / f"dynamic-{per_channel}.onnx"
    quantize_dynamic(str(src), str(out), per_channel=per_channel, weight_type=QuantType.QInt8)
    return ort_predictor(out, threads=THREADS)


def _torch_fx(model: torch.nn.Module, calib: Batches, example: tuple[Any, ...]) -> Run:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("x86"), example)
    calibrate = predictor(prepared)
    for inputs, _ in calib:
        calibrate(inputs)
    return predictor(convert_fx(prepared))


def _torch_pt2e(model: torch.nn.Module, calib: Batches) -> Run:
    """pt2e as torchao documents it: torch.export (batch and sequence dims dynamic), prepare_pt2e
    with the default X86InductorQuantizer config, calibrate, convert_pt2e, then torch.compile with
    inductor's freezing (one dynamic-shape compile), which lowers to oneDNN INT8 kernels."""
    import torch._inductor.config as inductor
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    feeds = [{k: torch.from_numpy(v) for k, v in x.items()} for x, _ in calib]
    dims = {k: {0: torch.export.Dim.AUTO, 1: torch.export.Dim.AUTO} for k in feeds[0]}
    exported = torch.export.export(copy.deepcopy(model), (), feeds[0], dynamic_shapes=dims).module()
    exported.graph.eliminate_dead_code()  # the unused pooler's Linear-Tanh fails the quantizer
    exported.recompile()
    quantizer = xiq.X86InductorQuantizer().set_global(xiq.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(exported, quantizer)
    with torch.no_grad():
        for feed in feeds:
            prepared(**feed)
    inductor.freezing = True
    start = time.perf_counter()
    compiled = torch.compile(convert_pt2e(prepared), dynamic=True)
    with torch.no_grad():
        compiled(**feeds[0])
    print(f"pt2e by hand: torch.compile took {time.perf_counter() - start:.0f} s", flush=True)
    return predictor(compiled)


def _lpot_static(
    model: torch.nn.Module,
    calib: Batches,
    data: Batches,
    metric: Any,
    criterion: dict[str, float] | None = None,
    trials: int = 1,
    **backend: Any,
) -> Run:
    """lpot static INT8 through the lowering ``backend`` names: one trial (the default recipe), or
    a basic tuning of up to ``trials`` toward ``criterion``. A pt2e result comes back compiled
    by inductor (``PyTorchBackend(inductor=True)``, the default), as the hand-made pt2e path is."""
    import lpot
    from lpot_pytorch import PyTorchBackend

    config = {
        "model": {"name": "zoo", "framework": "pytorch"},
        "quantization": {"approach": "post_training_static_quant"},
        "tuning": {
            "accuracy_criterion": criterion or {"relative": 0.5},
            "exit_policy": {"timeout": 0, "max_trials": trials},
            "workspace": {"path": tempfile.mkdtemp(prefix="lpot-bench-")},
        },
    }
    start = time.perf_counter()
    result = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=lambda m: evaluate(data, predictor(m), metric),
        config=config,
        backend=PyTorchBackend(**backend),
        progress=False,
    )
    took = time.perf_counter() - start
    print(
        f"lpot static {backend or 'auto'}: {len(result.trials)} trial(s), {result.status}, "
        f"{type(result.model).__name__}, tuned in {took:.0f} s",
        flush=True,
    )
    if result.best_trial is None:  # the result would be the FP32 model
        raise RuntimeError(result.trials[0].error or "every trial failed")
    return predictor(result.model)


def _torch_dynamic(model: torch.nn.Module) -> Run:
    from torch.ao.quantization import quantize_dynamic as torch_quantize_dynamic

    return predictor(torch_quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8))


def _time_calls(run: Run, inputs: Any, seconds: float) -> float:
    """Mean seconds per call over about ``seconds`` (at least one call)."""
    start, calls = time.perf_counter(), 0
    while calls == 0 or time.perf_counter() - start < seconds:
        run(inputs)
        calls += 1
    return (time.perf_counter() - start) / calls


def measure(variants: list[Variant], inputs: dict[int, Any], rounds: int, seconds: float) -> None:
    """Median ms per batch for each variant and batch size, interleaved round by round."""
    live = [v for v in variants if v.run is not None]
    for batch, x in inputs.items():
        for v in live:
            v.run(x)  # warm-up: first-call allocations and kernel selection
        samples: dict[str, list[float]] = {v.name: [] for v in live}
        for _ in range(rounds):
            for v in live:
                samples[v.name].append(_time_calls(v.run, x, seconds) * 1e3)
        for v in live:
            median = statistics.median(samples[v.name])
            q = statistics.quantiles(samples[v.name], n=4) if rounds >= 4 else [median, median, median]
            v.ms[batch], v.spread[batch] = median, (q[2] - q[0]) / median


def _rows(model: str, variants: list[Variant], batches: tuple[int, int]) -> list[list[Any]]:
    eager, ort32 = variants[0], variants[1]
    rows = []
    for v in variants:
        row: list[Any] = [model, v.name, None if v.metric is None else round(v.metric, 4)]
        for b in batches:
            ms = v.ms.get(b)
            row += [
                None if ms is None else round(ms, 2),
                None if ms is None else f"{eager.ms[b] / ms:.2f}x",
                None if ms is None or b not in ort32.ms else f"{ort32.ms[b] / ms:.2f}x",
                None if ms is None else f"{100 * v.spread[b]:.0f}%",
            ]
        rows.append(row + [v.note])
    return rows


def efficientnet_variants(count: int, work: Path) -> tuple[list[Variant], dict[int, Any]]:
    from lpot_zoo.efficientnet import load_efficientnet_lite0
    from lpot_zoo.photos import photo_loader

    model = load_efficientnet_lite0()
    torch_run = predictor(model)
    data = photo_loader(count).labelled(lambda x: top1(torch_run(x)))
    calib = data.take(4)
    src = efficientnet_onnx()
    variants = [
        Variant("torch eager FP32", torch_run),
        Variant("ORT FP32", ort_predictor(src, threads=THREADS)),
        _try("ORT static U8S8 QDQ", lambda: _ort_static(src, calib, QuantType.QUInt8, work)),
        _try("ORT static S8S8 QDQ", lambda: _ort_static(src, calib, QuantType.QInt8, work)),
        _try("torch FX x86", lambda: _torch_fx(model, calib, (torch.from_numpy(calib[0][0]),))),
    ]
    for v in variants:
        if v.run is not None:
            v.metric = evaluate(data, v.run, top1_agreement)
    x = data[0][0]
    inputs = {1: x[:1].copy(), 16: np.concatenate([x, data[1][0]])[:16].copy()}
    return variants, inputs


def residual_variants(count: int, work: Path) -> tuple[list[Variant], dict[int, Any]]:
    """A traceable CNN through both of lpot's lowerings: what backs ``lowering="auto"``."""
    from lpot_zoo.shapes import digit_image_batches, residual_relu_net

    model = residual_relu_net()
    torch_run = predictor(model)
    data = digit_image_batches(32, count=count).labelled(lambda x: top1(torch_run(x)))
    calib = data.take(2)
    variants = [
        Variant("torch eager FP32", torch_run),
        Variant("ORT FP32", None, note="no ONNX export of this net in the zoo"),
        _try(
            "lpot static, FX lowering",
            lambda: _lpot_static(model, calib, data, top1_agreement, lowering="fx"),
        ),
        _try(
            "lpot static, pt2e lowering",
            lambda: _lpot_static(model, calib, data, top1_agreement, lowering="pt2e"),
        ),
        _try("torch FX x86", lambda: _torch_fx(model, calib, (torch.from_numpy(calib[0][0]),))),
    ]
    for v in variants:
        if v.run is not None:
            v.metric = evaluate(data, v.run, top1_agreement)
    x = data[0][0]
    inputs = {1: x[:1].copy(), 16: x[:16].copy()}
    return variants, inputs


def minilm_variants(count: int | None, work: Path) -> tuple[list[Variant], dict[int, Any]]:
    from lpot_zoo.minilm import sentence_embedder, sentence_loader

    embedder = sentence_embedder()
    torch_run = predictor(embedder)
    data = sentence_loader(count).labelled(torch_run)
    calib = data.take(4)
    src = minilm_onnx()
    ids = torch.from_numpy(calib[0][0]["input_ids"])
    pre = {"skip_symbolic_shape": True}  # symbolic shape inference fails on this export (issue 17)
    variants = [
        Variant("torch eager FP32", torch_run),
        Variant("ORT FP32", ort_predictor(src, threads=THREADS)),
        _try("ORT static U8S8 QDQ", lambda: _ort_static(src, calib, QuantType.QUInt8, work, **pre)),
        _try("ORT static S8S8 QDQ", lambda: _ort_static(src, calib, QuantType.QInt8, work, **pre)),
        _try("ORT dynamic per-tensor", lambda: _ort_dynamic(src, False, work)),
        _try("ORT dynamic per-channel", lambda: _ort_dynamic(src, True, work)),
        _try("torch FX x86", lambda: _torch_fx(embedder, calib, (ids, torch.ones_like(ids)))),
        _try("torch pt2e x86 (by hand)", lambda: _torch_pt2e(embedder, calib)),
        _try("torch dynamic (Linear)", lambda: _torch_dynamic(embedder)),
        _try(
            "lpot static (auto: pt2e), tuned to cosine >= 0.99",
            lambda: _lpot_static(embedder, calib, data, mean_cosine, {"absolute": 0.01}, trials=8),
        ),
    ]
    for v in variants:
        if v.run is not None:
            v.metric = evaluate(data, v.run, mean_cosine)
    fixed = sentence_loader(8, batch_size=8, fixed_length=True, max_length=128)[0][0]
    inputs = {1: {k: a[:1].copy() for k, a in fixed.items()}, 8: fixed}
    return variants, inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos, sentences and rounds")
    parser.add_argument("--models", default="efficientnet,residual,minilm")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    rounds, seconds = (4, 0.3) if args.quick else (9, 1.0)
    headers = ["model", "path", "metric vs FP32"]
    for b in ("b1", "bN"):
        headers += [f"{b} ms", f"{b} vs eager", f"{b} vs ORT", f"{b} spread"]
    rows: list[list[Any]] = []
    builders = {
        "efficientnet": (
            "EfficientNet-Lite0 (bN=16)",
            lambda w: efficientnet_variants(32 if args.quick else 112, w),
        ),
        "residual": ("ResidualReluNet (bN=16)", lambda w: residual_variants(64 if args.quick else 256, w)),
        "minilm": (
            "all-MiniLM-L6-v2 (bN=8, seq 128)",
            lambda w: minilm_variants(48 if args.quick else None, w),
        ),
    }
    for key in args.models.split(","):
        title, build = builders[key]
        with tempfile.TemporaryDirectory(prefix="lpot-bench-") as tmp:
            start = time.perf_counter()
            variants, inputs = build(Path(tmp))
            measure(variants, inputs, rounds, seconds)
            print(f"{title}: built and measured in {time.perf_counter() - start:.0f} s", flush=True)
            rows += _rows(title, variants, tuple(inputs))
    print(table([*headers, "note"], rows))
    print(
        "metric: top-1 agreement with torch FP32 (photos) / mean cosine with torch FP32 embeddings (sentences)"
    )


if __name__ == "__main__":
    main()
