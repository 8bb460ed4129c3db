"""Sparsity vs accuracy, size and (where a CPU kernel exploits it) latency, one run, one table.

The digits CNN of the tests is pruned at several sparsity levels and patterns (magnitude, gradual
over 3 epochs, then fine-tuned), and tuned to INT8 with lpot. Size is reported as stored
(FP32 / INT8 state dict) and compressed (zlib: what zeros buy on disk or over the wire, since dense
tensors store them). Latency: torch 2.13 has no CPU kernel for 2:4 semi-structured sparsity (its
``to_sparse_semi_structured`` is CUDA-only); CSR matmul on CPU exists, so a Linear layer is timed
dense vs CSR at each sparsity, side by side.

    python benchmarks/sparsity.py
"""

from __future__ import annotations

import copy
import io
import statistics
import sys
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import torch
from torch import nn

import lpot
from lpot_pytorch.pruning import sparsity_report, train_pruned

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pytorch"))
from models import DigitsNet, accuracy, digits_arrays, train  # noqa: E402

warnings.filterwarnings("ignore")


def sizes(model: nn.Module) -> tuple[int, int]:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    raw = buffer.getvalue()
    return len(raw), len(zlib.compress(raw, 9))


def batches(x, y, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(seed)
    return [(xt[i], yt[i]) for i in torch.randperm(len(xt)).split(64)]


def csr_linear_rows(levels: list[float]) -> list[str]:
    torch.manual_seed(0)
    x = torch.randn(16, 2048)
    rows = []
    for s in levels:
        w = torch.randn(2048, 2048)
        w[torch.rand_like(w) < s] = 0
        csr = w.to_sparse_csr()
        timings: dict[str, list[float]] = {"dense": [], "csr": []}
        with torch.inference_mode():
            for _ in range(7):
                for name, weight in (("dense", w), ("csr", csr)):
                    start = time.perf_counter()
                    for _ in range(5):
                        torch.mm(weight, x.T) if name == "dense" else torch.sparse.mm(weight, x.T)
                    timings[name].append((time.perf_counter() - start) / 5 * 1000)
        dense, sparse = statistics.median(timings["dense"]), statistics.median(timings["csr"])
        rows.append(f"| {s:.2f} | {dense:.2f} | {sparse:.2f} | {dense / sparse:.2f}x |")
    return rows


def main() -> None:
    x, y, xv, yv = digits_arrays()
    dense = train(DigitsNet(), x, y)
    base_acc = accuracy(dense, xv, yv)
    raw0, zipped0 = sizes(dense)
    print(f"dense FP32: top-1 {base_acc:.4f}, {raw0} bytes, {zipped0} zlib")
    print(
        "\n| pattern | sparsity | top-1 FP32 | top-1 INT8 (lpot) | FP32 zlib vs dense | INT8 zlib vs dense FP32 |"
    )
    print("|---|---|---|---|---|---|")
    for pattern, target in [
        ("unstructured", 0.5),
        ("unstructured", 0.8),
        ("unstructured", 0.9),
        ("2:4", 0.5),
        ("1x4", 0.75),
        ("channel", 0.5),
    ]:
        work = copy.deepcopy(dense)
        config = {
            "pattern": pattern,
            "end_epoch": 3,
            **({} if pattern == "2:4" else {"target_sparsity": target}),
        }
        if pattern == "channel":  # output channels of the classifier are classes: keep them all
            config["exclude"] = ["fc2"]
        pruned = train_pruned(
            work, config, batches(x, y), epochs=5, optimizer=torch.optim.Adam(work.parameters(), lr=1e-3)
        )
        achieved = statistics.mean(sparsity_report(pruned).values())
        result = lpot.tune(
            pruned,
            q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
            eval_func=lambda m: accuracy(m, xv, yv),
            config={"tuning": {"workspace": {"path": tempfile.mkdtemp()}}},
            progress=False,
        )
        _, zipped = sizes(pruned)
        _, zipped_int8 = sizes(result.model)
        print(
            f"| {pattern} | {achieved:.2f} | {accuracy(pruned, xv, yv):.4f} | {result.accuracy:.4f} | "
            f"{zipped0 / zipped:.2f}x | {zipped0 / zipped_int8:.2f}x |"
        )
    print("\nLinear 2048x2048, batch 16, ms: dense vs CSR (torch.sparse.mm, CPU)")
    print("| sparsity | dense | CSR | dense/CSR |\n|---|---|---|---|")
    print("\n".join(csr_linear_rows([0.5, 0.8, 0.9, 0.95, 0.99])))


if __name__ == "__main__":
    main()
