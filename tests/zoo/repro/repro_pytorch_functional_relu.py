"""Issue 17, row 10: a residual CNN whose blocks call ``torch.relu`` / ``F.relu``, lpot-pytorch vs FX by hand.

Prints what each converted graph holds (fused conv+relu modules, quantize/dequantize pairs) and
their latency against FP32 eager, interleaved, at batch 1 and 16.
Run: python repro_pytorch_functional_relu.py   (in the pytorch nox venv)
"""

from __future__ import annotations

import copy
import statistics
import time
from collections import Counter

import torch
from _repro import config, run
from lpot_zoo.shapes import digit_image_batches, residual_relu_net
from torch.ao.quantization import get_default_qconfig_mapping
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

torch.set_num_threads(2)
model = residual_relu_net()
data = digit_image_batches(32)
result = run(
    "ResidualReluNet, lpot-pytorch static, basic",
    model,
    q_dataloader=data.take(4),
    eval_dataloader=data,
    config=config("pytorch", max_trials=5, evaluation={"accuracy": {"metric": {"topk": 1}}}),
)
example = (torch.from_numpy(data[0][0][:1]),)
prepared = prepare_fx(copy.deepcopy(model), get_default_qconfig_mapping("x86"), example)
with torch.no_grad():
    for inputs, _ in data.take(4):
        prepared(torch.from_numpy(inputs))
by_hand = convert_fx(prepared)


def anatomy(gm: torch.nn.Module) -> str:
    modules = Counter(type(m).__name__ for m in gm.modules() if not list(m.children()))
    calls = Counter(
        str(getattr(n.target, "__name__", n.target))
        for n in gm.graph.nodes
        if n.op in ("call_function", "call_method")
    )
    keep = ("quantize_per_tensor", "dequantize", "relu", "add", "flatten")
    return f"modules {dict(modules)}; calls {{{', '.join(f'{k}: {v}' for k, v in calls.items() if any(s in k for s in keep))}}}"


print("\nlpot's graph: ", anatomy(result.model) if result is not None else "none")
print("FX by hand:   ", anatomy(by_hand))


def latency(fn, x: torch.Tensor) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(20):
            fn(x)
        return (time.perf_counter() - start) / 20


models = {"fp32 eager": model, "lpot": result.model if result is not None else model, "fx by hand": by_hand}
for batch in (1, 16):
    x = torch.from_numpy(data[0][0][:batch].copy())
    for fn in models.values():
        latency(fn, x)  # warm up
    times = {name: [] for name in models}
    for _ in range(7):  # interleaved rounds
        for name, fn in models.items():
            times[name].append(latency(fn, x))
    fp32 = statistics.median(times["fp32 eager"])
    print(
        f"batch {batch}: "
        + ", ".join(f"{name} {fp32 / statistics.median(t):.2f}x" for name, t in times.items())
    )
