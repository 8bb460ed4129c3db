"""lpot on the real-model zoo next to the hand-made paths, measured side by side in one run.

Per zoo model (ONNX Runtime backend): lpot basic / mse / sensitivity with the metric the user
would give (top-1 agreement with FP32 on photo crops; mean embedding cosine on sentences), next to
the FP32 baselines and the hand-made INT8 paths of ``real_models_baselines.py`` (ORT
``quantize_static`` U8S8 / S8S8, ``quantize_dynamic``, torch FX, torch dynamic). Columns: metric vs
FP32, latency at batch 1 and N with ratios to torch eager and ORT FP32 (every variant timed in the
same interleaved rounds), size vs FP32, trials and tuning wall time. The PyTorch backend's rows are
``real_models_pytorch.py``'s.

Run: ``nox -s bench_real_models`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import real_models_baselines as base  # noqa: E402  (the FP32 and hand-made rows)

import lpot  # noqa: E402
from lpot.report import table  # noqa: E402

STRATEGIES = ("basic", "mse", "sensitivity")
STATIC = "post_training_static_quant"
FAST_PATH = ("smoothquant.alpha", "matmul.output", "equalization", "bias_correction", "reduce_range")


def lpot_variant(
    strategy: str,
    src: Path,
    data: Any,
    calib: Any,
    score: Any,
    approach: str,
    budget: int,
    work: Path,
    name: str | None = None,
) -> base.Variant:
    """lpot.tune on the ONNX model; the variant runs the tuned graph in ORT like the hand-made ones."""
    import onnx

    name = name or f"lpot {strategy}"

    start = time.perf_counter()
    try:
        result = lpot.tune(
            str(src),
            q_dataloader=calib,
            eval_func=lambda m: score(m),
            config={
                "quantization": {"approach": approach, "calibration": {"sampling_size": 32}},
                "tuning": {
                    "strategy": {"name": strategy},
                    "exit_policy": {"max_trials": budget},
                    "workspace": {"path": str(work / f"{strategy}-{approach}")},
                },
            },
            progress=False,
        )
    except lpot.LpotError as exc:
        return base.Variant(name, None, note=f"{type(exc).__name__}: {str(exc)[:60]}")
    tuned = work / f"{strategy}-{approach}.onnx"
    onnx.save_model(result.model, str(tuned))
    options = ", ".join(f"{k}={v}" for k, v in result.recipe.options.items() if k in FAST_PATH)
    note = f"{result.status}, {len(result.trials)} trials, {time.perf_counter() - start:.0f} s, " + (
        f"{len(result.recipe.quantized_ops())} ops INT8, size {src.stat().st_size / tuned.stat().st_size:.2f}x smaller"
    )
    note += f"; {options}" if options else ""
    return base.Variant(name, base.ort_predictor(tuned, threads=base.THREADS), note=note)


def _scorer(data: Any, metric: Any) -> Any:
    """eval_func(onnx model) -> the metric vs FP32, as a user would write it."""

    def score(model: Any) -> float:
        path = Path(tempfile.mkdtemp()) / "m.onnx"
        import onnx

        onnx.save_model(model, str(path))
        return base.evaluate(data, base.ort_predictor(path, threads=base.THREADS), metric)

    return score


def with_lpot(
    model: str, count: int | None, work: Path, budget: int
) -> tuple[list[base.Variant], dict[int, Any]]:
    if model == "efficientnet":
        from lpot_zoo.efficientnet import load_efficientnet_lite0
        from lpot_zoo.photos import photo_loader

        variants, inputs = base.efficientnet_variants(count or 112, work)
        torch_run = base.predictor(load_efficientnet_lite0())
        data = photo_loader(count or 112).labelled(lambda x: base.top1(torch_run(x)))
        src, metric, approach = base.efficientnet_onnx(), base.top1_agreement, "post_training_static_quant"
    else:
        from lpot_zoo.minilm import sentence_embedder, sentence_loader

        variants, inputs = base.minilm_variants(count, work)
        data = sentence_loader(count).labelled(base.predictor(sentence_embedder()))
        src, metric, approach = base.minilm_onnx(), base.mean_cosine, "post_training_dynamic_quant"
    score = _scorer(data, metric)
    runs = [(strategy, approach, f"lpot {strategy}") for strategy in STRATEGIES]
    if approach != STATIC:  # the static path with the fast-path options, next to dynamic
        runs.append(("basic", STATIC, "lpot basic static"))
    for strategy, how, name in runs:
        v = lpot_variant(strategy, src, data, data.take(4), score, how, budget, work, name)
        if v.run is not None:
            v.metric = base.evaluate(data, v.run, metric)
        variants.append(v)
    return variants, inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", default="efficientnet,minilm")
    parser.add_argument("--max-trials", type=int, default=12)
    args = parser.parse_args()
    base.torch.set_num_threads(base.THREADS)
    rounds, seconds = (4, 0.3) if args.quick else (9, 1.0)
    headers = ["model", "path", "metric vs FP32"]
    for b in ("b1", "bN"):
        headers += [f"{b} ms", f"{b} vs eager", f"{b} vs ORT", f"{b} spread"]
    rows: list[list[Any]] = []
    titles = {"efficientnet": "EfficientNet-Lite0 (bN=16)", "minilm": "all-MiniLM-L6-v2 (bN=8, seq 128)"}
    for key in args.models.split(","):
        count = (32 if key == "efficientnet" else 48) if args.quick else None
        with tempfile.TemporaryDirectory(prefix="lpot-bench-") as tmp:
            start = time.perf_counter()
            variants, inputs = with_lpot(key, count, Path(tmp), args.max_trials)
            base.measure(variants, inputs, rounds, seconds)
            print(f"{titles[key]}: tuned and measured in {time.perf_counter() - start:.0f} s", flush=True)
            rows += base._rows(titles[key], variants, tuple(inputs))
    print(table([*headers, "note"], rows))
    print(
        "metric: top-1 agreement with torch FP32 (photos) / mean cosine with torch FP32 embeddings (sentences)"
    )


if __name__ == "__main__":
    main()
