"""lpot-pytorch on the real-model zoo (issue 17, the PyTorch rows): tuned models against FP32 eager
and the hand-made FX path (``prepare_fx``/``convert_fx``, x86 qconfig mapping), timed interleaved.

The top-1 column is agreement with FP32's top-1 for EfficientNet (the photographs have no labels)
and accuracy against the digits' labels for the residual CNN.

- ``efficientnet``: EfficientNet-Lite0 (real weights) tuned with lpot (basic, 1% relative): trial
  outcomes, top-1 agreement with FP32 on the shipped photographs, latency vs FP32 eager and FX by hand;
- ``residual``: the residual CNN calling ``torch.relu`` between convs: lpot's static INT8 model vs FX
  by hand, A-B-B-A rounds at batch 1 and 16, the table of lpot / by-hand speed ratios;
- ``minilm``: all-MiniLM-L6-v2 dynamic INT8: the result saved and rebuilt from weights + recipe.

Run in the pytorch nox venv: ``HF_HUB_OFFLINE=1 python benchmarks/real_models_pytorch.py [parts...]``.

Why lpot_pytorch.kernels re-packs EfficientNet's stride-2 depthwise convs for oneDNN (2 threads,
AVX2, batch 1, one quantized depthwise 3x3 conv, 96 channels, 56x56 input): FBGEMM 14-136 ms with
padding 0 after an explicit pad, 0.4 ms with padding 1; oneDNN 0.5-2 ms either way.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no OpenMP spin-waits on a shared machine
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

import lpot  # noqa: E402
from lpot.report.text import table  # noqa: E402

THREADS = 2
warnings.filterwarnings("ignore", message=".*(deprecated|migrate|TypedStorage).*")  # torch.ao's notices
warnings.filterwarnings("ignore", category=DeprecationWarning)
Run = Callable[[Any], Any]


def tune_config(approach: str, max_trials: int, workspace: str) -> dict[str, Any]:
    return {
        "model": {"name": "zoo", "framework": "pytorch"},
        "quantization": {"approach": approach},
        "tuning": {
            "strategy": {"name": "basic"},
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"timeout": 0, "max_trials": max_trials},
            "random_seed": 9527,
            "workspace": {"path": workspace},
        },
    }


def by_hand_fx(model: torch.nn.Module, calib: list[torch.Tensor]) -> torch.nn.Module:
    """The FX path a torch user writes: x86 qconfig mapping, prepare, calibrate, convert."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    prepared = prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping("x86"), (calib[0],))
    with torch.no_grad():
        for x in calib:
            prepared(x)
    return convert_fx(prepared)


def _ms_per_call(run: Run, x: Any, seconds: float) -> float:
    start, calls = time.perf_counter(), 0
    with torch.inference_mode():
        while calls == 0 or time.perf_counter() - start < seconds:
            run(x)
            calls += 1
    return (time.perf_counter() - start) / calls * 1e3


def abba(runs: dict[str, Run], x: Any, rounds: int, seconds: float) -> dict[str, float]:
    """Median ms per call of each runner, rounds in A-B-B-A order so drifting load hits all alike."""
    names = list(runs)
    for name in names:
        _ms_per_call(runs[name], x, 0.0)  # warm-up
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(_ms_per_call(runs[name], x, seconds))
    return {n: statistics.median(s) for n, s in samples.items()}


def _describe(result: Any) -> str:
    failed = [t for t in result.trials if t.status != "ok"]
    why = {(t.error or "").strip().splitlines()[0][:200] for t in failed if t.error}
    return (
        f"status={result.status}, {len(result.trials)} trials, {len(failed)} failed {sorted(why)}, "
        f"FP32 {result.baseline_accuracy:.4f} -> {result.accuracy:.4f}, "
        f"{len(result.recipe.quantized_ops())} of {len(result.recipe.ops)} ops INT8"
    )


def efficientnet(rounds: int, seconds: float, max_trials: int) -> list[list[Any]]:
    """Tuned EfficientNet-Lite0: agreement on the photographs and latency vs FP32 / FX by hand."""
    from lpot_zoo.agreement import evaluate, top1_agreement, top1_labelled
    from lpot_zoo.efficientnet import load_efficientnet_lite0
    from lpot_zoo.photos import photo_loader
    from lpot_zoo.torch_run import predictor

    model = load_efficientnet_lite0()
    photos = top1_labelled(photo_loader(64, batch_size=16), predictor(model))
    calib = top1_labelled(photo_loader(32, batch_size=16, seed=1), predictor(model))
    start = time.perf_counter()
    result = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=lambda m: evaluate(photos, predictor(m), top1_agreement),
        config=tune_config("post_training_static_quant", max_trials, tempfile.mkdtemp()),
        progress=False,
    )
    print(f"EfficientNet-Lite0 tune: {_describe(result)}, {time.perf_counter() - start:.0f} s")
    hand = by_hand_fx(model, [torch.from_numpy(x) for x, _ in calib])
    variants = {"fp32 eager": model, "lpot": result.model, "fx by hand": hand}
    metric = {n: evaluate(photos, predictor(m), top1_agreement) for n, m in variants.items()}
    return _latency_rows("EfficientNet-Lite0", variants, metric, photos[0][0], rounds, seconds)


def _latency_rows(
    title: str,
    variants: dict[str, Any],
    metric: dict[str, float],
    images: np.ndarray,
    rounds: int,
    seconds: float,
) -> list[list[Any]]:
    rows = []
    ms = {b: abba(variants, torch.from_numpy(images[:b].copy()), rounds, seconds) for b in (1, 16)}
    for name in variants:
        row: list[Any] = [title, name, round(metric[name], 4)]
        for b in (1, 16):
            row += [round(ms[b][name], 2), f"{ms[b]['fp32 eager'] / ms[b][name]:.2f}x"]
            row.append(f"{ms[b]['fx by hand'] / ms[b][name]:.2f}x")
        rows.append(row)
    return rows


def residual(rounds: int, seconds: float) -> list[list[Any]]:
    """The torch.relu residual CNN: lpot static INT8 vs FX by hand."""
    from lpot_zoo.agreement import evaluate, top1_agreement
    from lpot_zoo.shapes import digit_image_batches, residual_relu_net
    from lpot_zoo.torch_run import predictor

    model = residual_relu_net()
    data = digit_image_batches(32)
    calib = data.take(4)
    result = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=lambda m: evaluate(data, predictor(m), top1_agreement),
        config=tune_config("post_training_static_quant", 5, tempfile.mkdtemp()),
        progress=False,
    )
    print(f"ResidualReluNet tune: {_describe(result)}")
    hand = by_hand_fx(model, [torch.from_numpy(x) for x, _ in calib])
    variants = {"fp32 eager": model, "lpot": result.model, "fx by hand": hand}
    metric = {n: evaluate(data, predictor(m), top1_agreement) for n, m in variants.items()}
    return _latency_rows("ResidualReluNet", variants, metric, data[0][0], rounds, seconds)


def minilm(max_trials: int) -> None:
    """MiniLM dynamic INT8: tune, save, rebuild; the rebuilt model gives the same embeddings."""
    from lpot_zoo.agreement import evaluate, mean_cosine, reference_labelled
    from lpot_zoo.minilm import load_bert, sentence_loader

    from lpot.utils.pytorch import load

    bert = load_bert()
    embed = _bert_embedding
    data = reference_labelled(sentence_loader(24), embed(bert))
    start = time.perf_counter()
    result = lpot.tune(
        bert,
        q_dataloader=data,
        eval_func=lambda m: evaluate(data, embed(m), mean_cosine),
        config=tune_config("post_training_dynamic_quant", max_trials, tempfile.mkdtemp()),
        progress=False,
    )
    out = Path(tempfile.mkdtemp()) / "best"
    saved = result.save(out)
    again = load(out, bert)
    cosine = evaluate(data, embed(again), mean_cosine)
    print(
        f"MiniLM dynamic tune: {_describe(result)}, {time.perf_counter() - start:.0f} s; accuracy "
        f"{result.accuracy:.4f}; saved {saved.name}; rebuilt cosine vs FP32 {cosine:.4f}"
    )


def _bert_embedding(model: Any) -> Run:
    from lpot_zoo.minilm import mean_pool

    def run(inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
        with torch.no_grad():
            hidden = model(**feed)["last_hidden_state"]
        return mean_pool(hidden, feed["attention_mask"]).numpy()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["residual", "efficientnet", "minilm"])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--max-trials", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    rows: list[list[Any]] = []
    if "residual" in args.parts:
        rows += residual(args.rounds, args.seconds)
    if "efficientnet" in args.parts:
        rows += efficientnet(args.rounds, args.seconds, args.max_trials)
    if rows:
        head = ["model", "variant", "top-1"]
        for b in (1, 16):
            head += [f"b{b} ms", f"b{b} vs fp32", f"b{b} vs by hand"]
        print(table(head, rows))
    if "minilm" in args.parts:
        minilm(args.max_trials)


if __name__ == "__main__":
    main()
