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
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import fx, nn

from lpot.errors import ModelError, first_line

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


PROBE_BATCHES = (1, 3)  # besides the recorded one: a batch of 1 and an odd one, as evaluations end


def compile_pt2e(converted: fx.GraphModule, made: Mapping[str, Any]) -> CompiledPt2e:
    """``converted`` compiled now, on inputs shaped as recorded, rather than at the user's first call,
    then run on other batch sizes: a compile that fails on them is a ModelError here (the core then
    returns the eager graph), never a user's crash later. A residual CNN did: inductor compiled it for
    the recorded batch only, and its dynamic-batch qconv lowering failed a stride assertion."""
    from lpot_pytorch.pt2e import example_inputs

    log.info("compiling the pt2e INT8 model with inductor (about half a minute, longer under load)")
    model = CompiledPt2e(converted, made)
    args, kwargs, _ = example_inputs(made["inputs"])
    model(*args, **kwargs)
    for batch in PROBE_BATCHES:
        try:
            model(*_rows(args, batch), **dict(zip(kwargs, _rows(kwargs.values(), batch), strict=True)))
        except Exception as exc:
            raise ModelError(
                f"inductor compiled the pt2e model but failed on a batch of {batch} "
                f"({type(exc).__name__}: {first_line(exc, 200)}); PyTorchBackend(inductor=False) keeps "
                "the eager graph"
            ) from exc
    return model


def _rows(tensors: Iterable[torch.Tensor], batch: int) -> list[torch.Tensor]:
    """Each input with ``batch`` rows (its first row repeated): the shape a compile must also serve."""
    return [t[:1].expand(batch, *t.shape[1:]).contiguous() if t.dim() else t for t in tensors]
