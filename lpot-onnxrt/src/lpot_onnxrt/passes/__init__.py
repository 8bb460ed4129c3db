"""Graph passes over ``onnx.ModelProto``: each takes a model (and, where it needs data, numpy
statistics or a dataloader) and returns a new model, leaving its input untouched.

- ``transformer_fusion``: ORT's BERT fusions (Attention, SkipLayerNormalization, BiasGelu, ...)
- ``smoothquant``: activation outliers migrated into weights before static INT8
- ``equalization``: cross-layer equalization of conv -> act -> conv chains
- ``bias_correction``: per-channel output mean shift of INT8 layers folded back into biases
- ``graph_optimization``: ORT's session optimizations baked into a model; BF16 where native

Modules import ONNX Runtime only inside the functions that need it.
"""

from __future__ import annotations

from lpot_onnxrt.passes.bias_correction import BiasCorrection, correct_bias
from lpot_onnxrt.passes.equalization import EqualizationResult, equalize, fold_batchnorm
from lpot_onnxrt.passes.graph_optimization import (
    OptimizedGraph,
    bf16_refusal,
    cast_to_bf16,
    convert_to_bf16,
    optimize_graph,
)
from lpot_onnxrt.passes.smoothquant import AlphaSearch, SmoothResult, activation_maxima, search_alpha, smooth
from lpot_onnxrt.passes.transformer_fusion import BertShape, FusionResult, detect_bert_shape, fuse_transformer

__all__ = [
    "AlphaSearch",
    "BertShape",
    "BiasCorrection",
    "EqualizationResult",
    "FusionResult",
    "OptimizedGraph",
    "SmoothResult",
    "activation_maxima",
    "bf16_refusal",
    "cast_to_bf16",
    "convert_to_bf16",
    "correct_bias",
    "detect_bert_shape",
    "equalize",
    "fold_batchnorm",
    "fuse_transformer",
    "optimize_graph",
    "search_alpha",
    "smooth",
]
