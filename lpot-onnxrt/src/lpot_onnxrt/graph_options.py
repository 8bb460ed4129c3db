"""The fast-path passes as recipe dimensions: model-wise options the strategies try before op-wise
fallback, only where a model has what the pass works on.

- ``smoothquant.alpha`` (static, transformer encoders): activation outliers moved into the
  weights (:mod:`lpot_onnxrt.passes.smoothquant`); ``"off"`` or the migration strength.
- ``equalization`` (static, conv chains): cross-layer equalization, exact (``"exact"``: ReLU6
  bounds kept per channel) or ``"off"``.
- ``matmul.output`` (static, transformer encoders): ``"float"`` leaves MatMul outputs
  unquantized (ORT then runs ``MatMulIntegerToFloat``: an integer GEMM whose result stays float),
  ``"int8"`` quantizes them like any activation.
- ``bias_correction`` (static, layers with a bias): the mean shift INT8 puts on each layer's
  output measured on calibration data and folded back into its bias, layer by layer.

The first two change the graph that calibration runs on, so they are ``calibrated_options``: the
core calibrates once per value (the spec carries it) and the same transform is applied again
before quantizing. SmoothQuant's per-channel activation maxima are measured during that
calibration and kept as an artifact, so a resumed run smooths without the data.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import onnx

from lpot.data import batch_size_of
from lpot.errors import QuantizationError

log = logging.getLogger("lpot.onnxrt")

SMOOTHQUANT = "smoothquant.alpha"
EQUALIZATION = "equalization"
MATMUL_OUTPUT = "matmul.output"
BIAS_CORRECTION = "bias_correction"
CALIBRATED = frozenset({SMOOTHQUANT, EQUALIZATION})
OFF = "off"
# measured on all-MiniLM-L6-v2 (benchmarks/fast_path.py): the output error fell up to alpha 0.9
SMOOTHQUANT_ALPHAS = (0.5, 0.9)
MAXIMA_ARTIFACT = "smoothquant_maxima"
BIAS_CORRECTION_SAMPLES = 32  # output means settle long before the calibration set ends


def is_transformer(model: onnx.ModelProto) -> bool:
    """A BERT-class encoder: attention (Softmax) and LayerNormalization."""
    ops = {n.op_type for n in model.graph.node}
    return "Softmax" in ops and "LayerNormalization" in ops


def static_graph_options(model: onnx.ModelProto) -> dict[str, tuple[Any, ...]]:
    """The fast-path options that apply to this model, default first."""
    from lpot_onnxrt.passes.bias_correction import correctable_layers
    from lpot_onnxrt.passes.equalization import find_pairs
    from lpot_onnxrt.passes.smoothquant import find_groups

    options: dict[str, tuple[Any, ...]] = {}
    if is_transformer(model):
        # measured on MiniLM: float MatMul outputs 0.99 cosine where quantized ones lost 0.06
        options[MATMUL_OUTPUT] = ("float", "int8")
        if find_groups(model):
            options[SMOOTHQUANT] = (OFF, *SMOOTHQUANT_ALPHAS)
    elif find_pairs(model):
        options[EQUALIZATION] = (OFF, "exact")
    if not is_transformer(model) and correctable_layers(model):
        options[BIAS_CORRECTION] = (False, True)
    return options


def transform(
    model: onnx.ModelProto, graph: Mapping[str, Any], artifacts: Mapping[str, bytes]
) -> onnx.ModelProto:
    """The model as calibration saw it for these ``graph`` option values (the spec's)."""
    equalization = graph.get(EQUALIZATION, OFF)
    if equalization != OFF:
        from lpot_onnxrt.passes.equalization import equalize

        model = equalize(model, clip=str(equalization)).model
    alpha = graph.get(SMOOTHQUANT, OFF)
    if alpha != OFF:
        from lpot_onnxrt.passes.smoothquant import smooth

        if MAXIMA_ARTIFACT not in artifacts:
            raise QuantizationError(
                f"{SMOOTHQUANT}={alpha}: the calibration statistics lack {MAXIMA_ARTIFACT}"
            )
        model = smooth(model, read_maxima(artifacts[MAXIMA_ARTIFACT]), float(alpha)).model
    return model


def prepare_calibration(
    model: onnx.ModelProto, graph: Mapping[str, Any], batches: Iterable[Any]
) -> tuple[onnx.ModelProto, dict[str, bytes]]:
    """The transformed model to calibrate and the artifacts its transform needs again later."""
    artifacts: dict[str, bytes] = {}
    if graph.get(SMOOTHQUANT, OFF) != OFF:
        from lpot_onnxrt.passes.smoothquant import activation_maxima

        equalized = transform(model, {EQUALIZATION: graph.get(EQUALIZATION, OFF)}, {})
        artifacts[MAXIMA_ARTIFACT] = write_maxima(activation_maxima(equalized, as_batches(batches)))
    return transform(model, graph, artifacts), artifacts


def as_batches(inputs: Iterable[Any]) -> list[tuple[Any, None]]:
    """Input batches as ``(inputs, labels)`` pairs, the form the passes read (a bare tuple of two
    inputs would otherwise be taken for inputs and labels)."""
    return [(x, None) for x in inputs]


def write_maxima(maxima: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    arrays = {f"arr_{i}": np.asarray(maxima[k]) for i, k in enumerate(maxima)}
    np.savez(buffer, names=np.asarray(list(maxima), dtype=str), **arrays)
    return buffer.getvalue()


def read_maxima(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        names = [str(n) for n in npz["names"]]
        return {name: npz[f"arr_{i}"] for i, name in enumerate(names)}


def correct_biases(
    model: onnx.ModelProto, quantize: Any, calibration: Iterable[Any] | None
) -> onnx.ModelProto:
    """``quantize(model)`` with each layer's INT8 output mean shift folded back into its bias."""
    from lpot_onnxrt.passes.bias_correction import correct_bias

    if calibration is None:
        raise QuantizationError(f"{BIAS_CORRECTION}: needs calibration data (q_dataloader)")
    batches, seen = [], 0
    for inputs in calibration:
        batches.append((inputs, None))
        seen += batch_size_of(inputs)
        if seen >= BIAS_CORRECTION_SAMPLES:
            break
    result = correct_bias(model, quantize, batches)
    log.info(
        "bias correction: %d layers, mean |shift| %.3g", result.layers, np.mean(result.mean_shift or [0])
    )
    return result.quantized
