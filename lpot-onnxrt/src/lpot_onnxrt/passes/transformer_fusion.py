"""ONNX Runtime's transformer fusions (Attention, SkipLayerNormalization, BiasGelu, ...) as a pass.

ORT's session-level optimizer does not fuse a BERT-class encoder into its contrib kernels; its
Python ``onnxruntime.transformers.optimizer`` does, and the fused graph is what INT8 must start
from: dynamic quantization turns ``Attention`` into ``QAttention`` (Q/K/V projections in one
integer GEMM) and ``EmbedLayerNormalization`` keeps the embedding lookup in one kernel.

The optimizer only finds attention when it knows the head count, and its own detection fails on
torch exports (the head count hides in a ``Concat`` of ``Unsqueeze``-d constants), so it is read
from the graph here. Graphs without BERT-class attention / LayerNorm are returned unchanged with
the reason, so the pass is safe to try on any model. transformers 5's default (SDPA) export hides
attention from ORT's matcher; ``sdpa_attention.rewrite_sdpa`` gives it the eager form first, and
the rewrite is kept only when Attention then fuses (its NaN guards are dropped, which is exact
once ORT's Attention, with its finite mask value, replaces the Softmax).
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, field

import numpy as np
import onnx

from lpot.errors import ConfigError, QuantizationError
from lpot_onnxrt.passes._graph import Graph, copy_model, op_counts
from lpot_onnxrt.passes._session_opt import bake
from lpot_onnxrt.preprocess import scratch_cwd

# Contrib ops the BERT optimizer can produce; their counts say which fusions fired.
FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "EmbedLayerNormalization",
    "SkipLayerNormalization",
    "BiasGelu",
    "FastGelu",
    "Gelu",
    "GemmFastGelu",
)
# ORT's opt_level numbers -> the session level run before the Python fusions (as ORT's optimizer
# does, minus its unconditional ``import torch``, which fails in a venv without torch).
OPT_LEVELS = {0: None, 1: "basic", 2: "extended", 99: "all"}
# What ORT's optimizer disables before fusing (they rewrite the patterns it matches).
_DISABLED = ("ConstantSharing",)
_DISABLED_ABOVE_BASIC = (
    "MatMulScaleFusion",
    "MatMulAddFusion",
    "MatmulTransposeFusion",
    "GemmActivationFusion",
    "BiasSoftmaxFusion",
)


@dataclass(frozen=True)
class BertShape:
    """What ORT's attention fusion must be told: heads and hidden width."""

    num_heads: int
    hidden_size: int

    def __post_init__(self) -> None:
        if self.num_heads <= 0 or self.hidden_size <= 0 or self.hidden_size % self.num_heads:
            raise ConfigError(
                f"num_heads={self.num_heads}, hidden_size={self.hidden_size}: expected positive "
                "integers with hidden_size divisible by num_heads"
            )


@dataclass(frozen=True)
class FusionResult:
    """The (possibly unchanged) model, how many of each fused op it now has, and why not if none."""

    model: onnx.ModelProto
    fused: dict[str, int] = field(default_factory=dict)
    shape: BertShape | None = None
    skipped: str | None = None
    rewrites: dict[str, int] = field(default_factory=dict)  # SDPA-export rewrites made before fusing

    @property
    def applied(self) -> bool:
        return self.skipped is None and any(self.fused.values())


def _layernorm_width(graph: Graph) -> int | None:
    """Hidden width from LayerNormalization scales (all equal in an encoder)."""
    widths = set()
    for node in graph.graph.node:
        if node.op_type == "LayerNormalization" and len(node.input) > 1:
            scale = graph.array(node.input[1])
            if scale is not None and scale.ndim == 1:
                widths.add(int(scale.shape[0]))
    return widths.pop() if len(widths) == 1 else None


def _shape_values(graph: Graph, name: str) -> list[int | None] | None:
    """Reshape target as ints (None where only known at run time), through Concat of constants."""
    value = graph.array(name)
    if value is not None:
        return [int(v) for v in np.asarray(value).reshape(-1)]
    node = graph.producer.get(name)
    if node is None or node.op_type != "Concat":
        return None
    parts: list[int | None] = []
    for piece in node.input:
        source = graph.producer.get(piece)
        if source is not None and source.op_type == "Unsqueeze":
            piece = source.input[0]
        value = graph.array(piece)
        parts.extend([None] if value is None else [int(v) for v in np.asarray(value).reshape(-1)])
    return parts


def detect_bert_shape(model: onnx.ModelProto) -> BertShape | None:
    """Heads and hidden width of a BERT-class encoder, or None when the graph is not one.

    Looks for LayerNormalization (the hidden width), Softmax (attention scores), and a Reshape to
    ``[batch, seq, heads, head_size]`` whose last two dims multiply to the hidden width (HF
    exports write heads as -1: then it is the hidden width over the head size).
    """
    graph = Graph(model)
    ops = op_counts(model)
    if not ops.get("Softmax") or not ops.get("LayerNormalization"):
        return None
    hidden = _layernorm_width(graph)
    if hidden is None:
        return None
    for node in model.graph.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        dims = _shape_values(graph, node.input[1])
        if not dims or len(dims) != 4 or not dims[3] or dims[3] <= 0 or hidden % dims[3]:
            continue
        heads = hidden // dims[3]
        if dims[2] in (-1, heads) and heads > 1:
            return BertShape(num_heads=heads, hidden_size=hidden)
    return None


def fuse_transformer(
    model: onnx.ModelProto,
    *,
    num_heads: int | None = None,
    hidden_size: int | None = None,
    opt_level: int = 1,
    sdpa_rewrite: bool = True,
) -> FusionResult:
    """The model with ORT's BERT fusions applied, or unchanged (with ``skipped``) where they do not.

    ``opt_level`` 1 (ORT's basic, provider-neutral constant folding first) is the default: level
    2/99 would bake CPU-specific layouts into a graph that is quantized and re-optimized later.
    ``sdpa_rewrite=False`` fuses the graph as exported (for comparisons).
    """
    if opt_level not in OPT_LEVELS:
        raise ConfigError(f"opt_level={opt_level!r}: expected one of {sorted(OPT_LEVELS)}")
    detected = detect_bert_shape(model)
    if num_heads or hidden_size:
        shape = BertShape(
            num_heads=num_heads or (detected.num_heads if detected else 0),
            hidden_size=hidden_size or (detected.hidden_size if detected else 0),
        )
    elif detected is None:
        return FusionResult(
            model, skipped="no BERT-class attention found (LayerNormalization + Softmax + head Reshape)"
        )
    else:
        shape = detected
    if sdpa_rewrite:
        fused_model, rewrites = _fused_with_sdpa_rewrite(model, shape, opt_level)
    else:
        fused_model, rewrites = _run_optimizer(model, shape, opt_level), {}
    counts = {op: n for op, n in op_counts(fused_model).items() if op in FUSED_OPS}
    if not counts:
        return FusionResult(model, shape=shape, skipped="ORT's BERT optimizer matched no pattern")
    return FusionResult(fused_model, fused=counts, shape=shape, rewrites=rewrites)


def _fused_with_sdpa_rewrite(
    model: onnx.ModelProto, shape: BertShape, opt_level: int
) -> tuple[onnx.ModelProto, dict[str, int]]:
    """ORT's fusions on the SDPA-rewritten graph when that makes Attention fuse, else on ``model``."""
    from lpot_onnxrt.passes.sdpa_attention import rewrite_sdpa

    rewrite = rewrite_sdpa(model)
    if rewrite.changed:
        fused = _run_optimizer(rewrite.model, shape, opt_level)
        if op_counts(fused).get("Attention"):
            return fused, rewrite.counts
    return _run_optimizer(model, shape, opt_level), {}


def _run_optimizer(model: onnx.ModelProto, shape: BertShape, opt_level: int) -> onnx.ModelProto:
    """ORT's optimizer on a copy (it edits its input in place), its chatter kept out of the logs."""
    from onnxruntime.transformers.optimizer import optimize_model

    level = OPT_LEVELS[opt_level]
    if level is not None:
        disabled = _DISABLED + (_DISABLED_ABOVE_BASIC if level != "basic" else ())
        model = bake(model, level, disabled)
    quiet = logging.getLogger("onnxruntime.transformers")
    previous = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            optimized = optimize_model(
                copy_model(model),
                model_type="bert",
                num_heads=shape.num_heads,
                hidden_size=shape.hidden_size,
                opt_level=0,
                use_gpu=False,
            )
    except Exception as exc:
        raise QuantizationError(
            f"ONNX Runtime's transformer optimizer failed on this model ({shape}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        quiet.setLevel(previous)
    return infer_shapes(optimized.model)


def infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Types of every tensor, contrib ops included (ORT's symbolic inference knows them; ONNX's does
    not, and ORT's quantizers refuse a MatMul whose output type they cannot find)."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        with scratch_cwd():  # on an incomplete inference ORT saves its partial model into the cwd
            return SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception:  # noqa: BLE001 - a graph it cannot follow still runs; quantizers then need types
        logging.getLogger("lpot.onnxrt").info("symbolic shape inference failed on the fused graph")
        return model
