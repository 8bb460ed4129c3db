"""The transformer fast path and the accuracy-recovery passes, on real models, side by side.

For all-MiniLM-L6-v2 (seq 128; mean-pooled embedding cosine vs torch FP32 on held-out sentences)
and EfficientNet-Lite0 (top-1 agreement with torch FP32 on photo crops): torch FP32 eager, ORT
FP32, ORT FP32 with the fusions / baked graph optimization, INT8 with and without each pass of
``lpot_onnxrt.passes``, and the hand-made ORT paths. Latency at batch 1 and 8 (text) / 16
(images): every model timed in turn, round after round (interleaved, so machine drift hits all
alike), median ms and the min-max over rounds; ORT sessions with 2 intra-op threads and
``session.intra_op.allow_spinning=0``, torch with 2 threads. The load average is printed: on
shared cores torch's 2 OpenMP threads degrade far more than ORT's non-spinning pool (MiniLM b1
measured 54 ms at 1 thread vs 147-240 ms at 2 threads at load ~5), so read the "x eager" column
only from a quiet run.

Run: ``nox -s bench`` or ``python benchmarks/fast_path.py [--rounds N] [--only minilm|efficientnet]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationMethod, QuantType, quantize_dynamic
from onnxruntime.quantization.calibrate import CalibrationDataReader, create_calibrator
from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
from onnxruntime.quantization.quant_utils import save_and_reload_model_with_shape_infer

sys.path.insert(0, str(Path(__file__).parent))
import _fast_path_models as zoo  # noqa: E402

from lpot.isa import cpu_features  # noqa: E402
from lpot.report import table  # noqa: E402
from lpot_onnxrt.passes import correct_bias, equalize, fuse_transformer, optimize_graph, search_alpha  # noqa: E402
from lpot_onnxrt.preprocess import preprocess  # noqa: E402

THREADS = 2
# INT8 vs FP32 latency ratios the original tool's Engine published (Xeon with VNNI; ratios only)
ENGINE = {"bert_base_mrpc": 3.26, "distilbert_base_uncased_sst2": 3.50, "minilm_l6_h384_uncased_sst2": 2.74}


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


class _Reader(CalibrationDataReader):
    def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
        self.items = iter(batches)

    def get_next(self):
        return next(self.items, None)


def calibrate(model: onnx.ModelProto, batches, method=CalibrationMethod.MinMax):
    """ORT's calibrator once; the ranges are then reused (as lpot caches them per spec)."""
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, f"{tmp}/m.onnx")
        extra = {"num_bins": 2048, "percentile": 99.999} if method == CalibrationMethod.Percentile else {}
        calibrator = create_calibrator(
            f"{tmp}/m.onnx",
            None,
            augmented_model_path=f"{tmp}/a.onnx",
            calibrate_method=method,
            extra_options=extra,
        )
        calibrator.collect_data(_Reader(list(batches)))
        return calibrator.compute_data()


def qdq(model, ranges, *, op_types, per_channel=True, reduce_range=False, weight=QuantType.QInt8,
        activation=QuantType.QUInt8, exclude=(), extra=None) -> onnx.ModelProto:  # fmt: skip
    """Static QDQ with given ranges (ORT's QDQQuantizer, as lpot's backend drives it)."""
    quantizer = QDQQuantizer(
        save_and_reload_model_with_shape_infer(model), per_channel, reduce_range, weight, activation,
        ranges, [], list(exclude), list(op_types), dict(extra or {}),
    )  # fmt: skip
    quantizer.quantize_model()
    return quantizer.model.model


def dynamic(model: onnx.ModelProto, per_channel=True) -> onnx.ModelProto:
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(model, f"{tmp}/m.onnx")
        quantize_dynamic(
            f"{tmp}/m.onnx", f"{tmp}/q.onnx", per_channel=per_channel, weight_type=QuantType.QInt8
        )
        return onnx.load(f"{tmp}/q.onnx")


def interleaved(
    runs: dict[str, Callable[[], object]], rounds: int, budget_ms: float
) -> dict[str, tuple[float, float, float]]:
    """(median, min, max) ms per call over ``rounds``, every run timed once per round in turn."""
    per_round = {}
    for name, run in runs.items():
        run()
        start = time.perf_counter()
        run()
        per_round[name] = max(2, int(budget_ms / max((time.perf_counter() - start) * 1000, 0.1)))
    samples: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(per_round[name]):
                run()
            samples[name].append((time.perf_counter() - start) * 1000 / per_round[name])
    return {k: (statistics.median(v), min(v), max(v)) for k, v in samples.items()}


def latency_columns(variants, feeds_for, torch_runs, rounds, batch_sizes):
    """Per variant and batch size: (median, min, max) ms, ORT and torch interleaved together."""
    out: dict[str, dict[int, tuple[float, float, float]]] = {k: {} for k in [*torch_runs, *variants]}
    for batch in batch_sizes:
        runs = {name: make(batch) for name, make in torch_runs.items()}
        for name, model in variants.items():
            s, feed = session(model), feeds_for(batch)
            runs[name] = lambda s=s, feed=feed: s.run(None, feed)
        for name, value in interleaved(runs, rounds, budget_ms=300 if batch == 1 else 600).items():
            out[name][batch] = value
    return out


def cell(value: tuple[float, float, float]) -> str:
    return f"{value[0]:.2f} [{value[1]:.2f}-{value[2]:.2f}]"


# ---------------------------------------------------------------- MiniLM
def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(np.float32)
    return (hidden * m).sum(1) / m.sum(1)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))


def _static_matmuls(calib):
    """Static U8S8 QDQ of the weight MatMuls, their outputs left float (ORT then runs
    MatMulIntegerToFloat with a calibrated activation scale: dynamic's kernel, static's scale)."""

    def quantize(model, ranges=None):
        weights = {i.name for i in model.graph.initializer}
        activations = [
            n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] not in weights
        ]
        extra = {"OpTypesToExcludeOutputQuantization": ["MatMul"]}
        return qdq(
            model, ranges or calibrate(model, calib), op_types=["MatMul"], exclude=activations, extra=extra
        )

    return quantize


def _minilm_variants(plain: onnx.ModelProto, calib) -> tuple[dict, dict]:
    fusion = fuse_transformer(plain)
    static = _static_matmuls(calib)
    variants = {
        "ORT FP32": plain,
        "ORT FP32 + fusions": fusion.model,
        "ORT FP32 baked (all + fusions)": optimize_graph(plain, level="all").model,
        "dynamic INT8 per-channel (hand-made)": dynamic(plain),
        "dynamic INT8 per-channel + fusions": dynamic(fusion.model),
        "dynamic INT8 per-tensor + fusions": dynamic(fusion.model, per_channel=False),
        "static INT8 QDQ MatMul (outputs float)": static(plain),
        "static INT8 QDQ MatMul + fusions": static(fusion.model),
    }
    if fusion.rewrites:  # an SDPA export: what the rewrite adds (the eager one has nothing to compare)
        unrewritten = fuse_transformer(plain, sdpa_rewrite=False)
        if unrewritten.applied:
            variants["dynamic INT8 per-channel + fusions, no SDPA rewrite"] = dynamic(unrewritten.model)
    masks = [b["attention_mask"] for b in calib]

    def pooled_error(reference, candidate):  # what the embedding uses: real tokens, mean-pooled
        pairs = [(_mean_pool(f, m), _mean_pool(q, m)) for f, q, m in zip(reference, candidate, masks)]
        return 1.0 - _cosine(np.concatenate([f for f, _ in pairs]), np.concatenate([q for _, q in pairs]))

    sq = search_alpha(plain, calib, static, alphas=(0.5, 0.6, 0.7, 0.8, 0.9), error=pooled_error)
    variants[f"static INT8 + SmoothQuant a={sq.alpha}"] = static(sq.result.model)
    notes = {
        "fusions": fusion.fused,
        "sdpa rewrites": fusion.rewrites,
        "smoothquant": {"alpha": sq.alpha, "errors": sq.errors, "folds": sq.result.folds},
    }
    return variants, notes


def _torch_runner(module, make_args):
    import torch

    def for_batch(batch):
        args = make_args(batch)

        def run():
            with torch.no_grad():
                module(*args)

        return run

    return for_batch


def minilm_rows(workdir: Path, rounds: int, attention: str) -> tuple[list[tuple], dict]:
    import torch

    module, path, tokenizer = zoo.minilm(workdir, attention)
    feeds = zoo.tokens(tokenizer, zoo.sentences(160))
    calib = [{k: v[i : i + 8] for k, v in feeds.items()} for i in range(0, 32, 8)]
    held_out = {k: v[32:] for k, v in feeds.items()}
    mask = held_out["attention_mask"]
    with torch.no_grad():
        reference = _mean_pool(
            module(*(torch.from_numpy(held_out[k]) for k in zoo.TEXT_INPUTS)).numpy(), mask
        )

    def metric(model):
        s = session(model)
        chunks = [
            s.run(None, {k: v[i : i + 16] for k, v in held_out.items()})[0] for i in range(0, len(mask), 16)
        ]
        return _cosine(reference, _mean_pool(np.concatenate(chunks), mask))

    variants, notes = _minilm_variants(preprocess(onnx.load(str(path))), calib)
    metrics = {name: metric(model) for name, model in variants.items()}
    eager = _torch_runner(module, lambda b: tuple(torch.from_numpy(feeds[k][:b]) for k in zoo.TEXT_INPUTS))
    feeds_for = lambda b: {k: v[:b] for k, v in feeds.items()}  # noqa: E731
    latency = latency_columns(variants, feeds_for, {"torch FP32 eager": eager}, rounds, (1, 8))
    sizes = {name: zoo.size_mb(m) for name, m in variants.items()}
    return _rows(latency, metrics | {"torch FP32 eager": 1.0}, sizes, "ORT FP32 + fusions"), notes


def _rows(latency, metrics, sizes, same_graph: str) -> list[tuple]:
    eager, base, fusedbase = latency["torch FP32 eager"], latency["ORT FP32"], latency[same_graph]
    rows = []
    for name, by_batch in latency.items():
        b = sorted(by_batch)
        rows.append((
            name, round(metrics.get(name, float("nan")), 4), cell(by_batch[b[0]]), cell(by_batch[b[1]]),
            round(eager[b[0]][0] / by_batch[b[0]][0], 2), round(base[b[0]][0] / by_batch[b[0]][0], 2),
            round(fusedbase[b[0]][0] / by_batch[b[0]][0], 2), round(base[b[1]][0] / by_batch[b[1]][0], 2),
            round(sizes[name], 1) if name in sizes else None,
        ))  # fmt: skip
    return rows


# ---------------------------------------------------------------- EfficientNet-Lite0
CNN_OPS = ("Conv", "Clip", "Add", "GlobalAveragePool", "Reshape", "Gemm")


def _cnn_variants(fp32: onnx.ModelProto, calib) -> tuple[dict, dict]:
    minmax = calibrate(fp32, calib)
    convs = [n.name for n in fp32.graph.node if n.op_type == "Conv"]
    head = [n.name for n in fp32.graph.node if n.op_type == "Gemm"]

    def u8s8(model, ranges=minmax, **options):
        return qdq(model, ranges, op_types=options.pop("op_types", CNN_OPS), **options)

    def rr(model, ranges=None):
        return u8s8(model, ranges or minmax, reduce_range=True)

    cle = equalize(fp32, clip="exact")
    variants = {
        "ORT FP32": fp32,
        "ORT FP32 baked (all)": optimize_graph(fp32, level="all").model,
        "U8S8 per-channel (hand-made default)": u8s8(fp32),
        "U8S8 per-tensor": u8s8(fp32, per_channel=False),
        "U8S8 per-channel reduce_range": rr(fp32),
        "U8S8 per-tensor reduce_range": u8s8(fp32, per_channel=False, reduce_range=True),
        "U8U8 per-channel": u8s8(fp32, weight=QuantType.QUInt8),
        "S8S8 per-channel": u8s8(fp32, activation=QuantType.QInt8),
        "U8S8 rr kl": rr(fp32, calibrate(fp32, calib, CalibrationMethod.Entropy)),
        "U8S8 rr percentile": rr(fp32, calibrate(fp32, calib, CalibrationMethod.Percentile)),
        "U8S8 rr stem+head FP32": u8s8(fp32, reduce_range=True, exclude=[convs[0], *head]),
        "U8S8 rr Clip kept FP32": u8s8(fp32, reduce_range=True, op_types=[t for t in CNN_OPS if t != "Clip"]),
        "U8S8 rr + CLE(exact)": rr(cle.model, calibrate(cle.model, calib)),
    }
    started = time.perf_counter()
    bc = correct_bias(fp32, rr, calib)
    variants["U8S8 rr + bias correction"] = bc.quantized
    notes = {
        "cle": {"pairs": len(cle.pairs), "ratio": (cle.range_ratio_before, cle.range_ratio_after)},
        "bias_correction": {"layers": bc.layers, "seconds": round(time.perf_counter() - started, 1)},
        "cle_model": cle.model,
    }
    return variants, notes


def efficientnet_rows(workdir: Path, rounds: int) -> tuple[list[tuple], dict]:
    import torch

    net, path = zoo.efficientnet(workdir)
    images = zoo.photos()
    order = np.random.default_rng(0).permutation(len(images))
    calib = [{"input": images[order[i : i + 16]]} for i in range(0, 64, 16)]
    with torch.no_grad():
        reference = net(torch.from_numpy(images)).numpy().argmax(1)

    def metric(model):
        s = session(model)
        chunks = [s.run(None, {"input": images[i : i + 32]})[0].argmax(1) for i in range(0, len(images), 32)]
        return float((np.concatenate(chunks) == reference).mean())

    variants, notes = _cnn_variants(preprocess(onnx.load(str(path))), calib)
    notes["cle"]["fp32_agreement"] = metric(notes.pop("cle_model"))
    notes["images"] = len(images)
    metrics = {name: metric(model) for name, model in variants.items()}
    eager = _torch_runner(net, lambda b: (torch.from_numpy(images[:b]),))
    latency = latency_columns(
        variants, lambda b: {"input": images[:b]}, {"torch FP32 eager": eager}, rounds, (1, 16)
    )
    sizes = {name: zoo.size_mb(m) for name, m in variants.items()}
    return _rows(latency, metrics | {"torch FP32 eager": 1.0}, sizes, "ORT FP32"), notes


HEADERS = [
    "model",
    "metric",
    "b1 ms [min-max]",
    "bN ms [min-max]",
    "x eager b1",
    "x ORT b1",
    "x same-graph b1",
    "x ORT bN",
    "MB",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=["minilm", "efficientnet"])
    parser.add_argument("--attention", choices=["sdpa", "eager"], default="sdpa", help="MiniLM's export")
    args, _ = parser.parse_known_args()
    import torch

    torch.set_num_threads(THREADS)
    print(
        f"CPU: {cpu_features().describe()}; onnxruntime {ort.__version__}; torch {torch.__version__}; {THREADS} threads"
    )
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average at start: {load} (2 cores; above ~2 the timings share the CPU with others)")
    with tempfile.TemporaryDirectory(prefix="lpot-fast-path-") as tmp:
        if args.only in (None, "minilm"):
            rows, notes = minilm_rows(Path(tmp), args.rounds, args.attention)
            print(
                f"\nall-MiniLM-L6-v2 ({args.attention} export), seq 128 (metric: mean embedding cosine vs torch FP32; bN = batch 8)"
            )
            print("x same-graph = vs ORT FP32 running the fused graph")
            print(table(HEADERS, rows))
            print(
                f"fusions: {notes['fusions']} after SDPA rewrites {notes['sdpa rewrites']}; SmoothQuant: {notes['smoothquant']}"
            )
            print(
                "Engine (original tool, VNNI Xeon) INT8 vs FP32: "
                + ", ".join(f"{k} {v}x" for k, v in ENGINE.items())
            )
        if args.only in (None, "efficientnet"):
            rows, notes = efficientnet_rows(Path(tmp), args.rounds)
            print(
                "\nEfficientNet-Lite0 (metric: top-1 agreement with torch FP32 on photo crops; bN = batch 16)"
            )
            print(table(HEADERS, rows))
            print(f"notes: {notes}")
    print("load average at end: " + " ".join(f"{v:.1f}" for v in os.getloadavg()))


if __name__ == "__main__":
    main()
