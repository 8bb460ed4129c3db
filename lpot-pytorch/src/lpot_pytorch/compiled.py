"""pt2e INT8 models compiled by inductor: the form lpot returns for the pt2e lowering.

The eager-lowered graph (:func:`lpot_pytorch.pt2e.lower`) runs oneDNN's INT8 kernels, but every
quantize step between them stays five separate aten calls (mul, round, add, clamp, cast) and the
FP32 ops around them stay unfused. On all-MiniLM-L6-v2 (AVX2, batch 1, sequence 128) that graph
ran 0.94x FP32 eager while the same INT8 graph compiled by inductor ran 1.56x. Compiling costs
about 25 s (minutes on a loaded machine), so trials are scored on the eager-lowered graph, which
has the same kernels and quantization parameters, and only the chosen model is compiled
(``Engine.finalize``); the core then scores it again.

Two settings let one compile serve every input: inductor's ``freezing`` (it folds the INT8 weights
into oneDNN's packed form, which its quantization patterns need) and ``backed_size_oblivious``
(dynamo would otherwise guard on a batch or a sequence of length 1 and compile again, about 30 s
each). Dynamo also guards on strides and on dispatch keys, so every call runs outside inference
mode on contiguous tensors made outside it: a sliced batch, a batch made under
``torch.inference_mode`` (lpot's timer) and a plain one each compiled again before.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import fx, nn

from lpot.errors import ModelError

log = logging.getLogger("lpot")


@contextlib.contextmanager
def compile_settings() -> Iterator[None]:
    """The settings every call runs under: dynamo compiles (and recompiles) lazily, inside a call."""
    import torch._inductor.config as inductor
    import torch.fx.experimental._config as symbolic

    with inductor.patch(freezing=True), symbolic.patch(backed_size_oblivious=True):
        with torch.inference_mode(False), torch.no_grad():
            yield


def _plain(value: Any) -> Any:
    """A contiguous tensor that is not an inference tensor (called inside :func:`compile_settings`)."""
    if not isinstance(value, torch.Tensor):
        return value
    return (value.clone() if value.is_inference() else value).contiguous()


class CompiledPt2e(nn.Module):
    """A converted pt2e graph compiled by inductor, with the record that builds it again (``meta``,
    as on the eager-lowered graph, plus ``compiled``), so saving, hashing and rebuilding work alike."""

    def __init__(self, converted: fx.GraphModule, made: Mapping[str, Any]) -> None:
        super().__init__()
        self.meta = {"lpot_pt2e": {**made, "compiled": True}}
        self.compiled = torch.compile(converted, dynamic=True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with compile_settings():
            return self.compiled(*map(_plain, args), **{k: _plain(v) for k, v in kwargs.items()})

    def train(self, mode: bool = True) -> CompiledPt2e:
        """Inference only, like the exported graph inside (which refuses ``train`` and ``eval``)."""
        if mode:
            raise ModelError(
                "a pt2e INT8 model only runs inference; train the FP32 model (or use quant_aware_training, "
                "which goes through PyTorchBackend(lowering='fx'))"
            )
        return self


def compile_pt2e(converted: fx.GraphModule, made: Mapping[str, Any]) -> CompiledPt2e:
    """``converted`` compiled now, on inputs shaped as recorded, rather than at the user's first call."""
    from lpot_pytorch.pt2e import example_inputs

    log.info("compiling the pt2e INT8 model with inductor (about half a minute, longer under load)")
    model = CompiledPt2e(converted, made)
    args, kwargs, _ = example_inputs(made["inputs"])
    model(*args, **kwargs)
    return model
