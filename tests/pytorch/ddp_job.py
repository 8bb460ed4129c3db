"""Two CPU ranks (gloo) training the digits CNN under DDP: pruning masks, then QAT ranges.

Run by test_distributed_pytorch.py through torch.multiprocessing; each rank writes what it ended
with (masks, observer ranges, INT8 outputs on fixed inputs) for the test to compare.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

from lpot import plugins  # noqa: E402
from lpot.space import build_space  # noqa: E402
from lpot_pytorch import fx  # noqa: E402
from lpot_pytorch.distributed import sync_for_convert  # noqa: E402
from lpot_pytorch.pruning import Pruner  # noqa: E402
from models import DigitsNet, digits_arrays  # noqa: E402


def _train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rank: int, epochs: int, hook=None) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    shard = torch.arange(rank, len(x), 2)  # each rank its own half of the data
    for epoch in range(epochs):
        if hook is not None:
            hook.on_epoch_begin(epoch)
        for idx in shard.split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            if hook is not None:
                hook.on_step_end()


def run(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.manual_seed(0)
    x_np, y_np, xv, _ = digits_arrays()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model = DigitsNet()
    pruner = Pruner(
        model, {"method": "gradient_sensitivity", "target_sparsity": 0.6, "start_epoch": 1, "end_epoch": 2}
    )
    _train(DDP(model), x, y, rank, epochs=3, hook=pruner)
    pruner.strip()
    masks = {n: (m.weight == 0) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}

    recipe = build_space(
        plugins.backend_by_name("pytorch").capability(model.eval(), "quant_aware_training"),
        approach="quant_aware_training",
    ).default_recipe()
    prepared = fx.prepare_qat(model, recipe)
    _train(DDP(prepared), x, y, rank, epochs=1)
    synced = sync_for_convert(prepared)
    quantized = fx.convert(prepared, recipe)
    with torch.inference_mode():
        outputs = quantized(torch.from_numpy(xv[:64]))
    torch.save({"masks": masks, "synced": synced, "outputs": outputs}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()
