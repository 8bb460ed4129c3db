"""Small real ONNX graphs for the pass tests, built with onnx.helper (random weights, fixed seeds)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def const(self, value: np.ndarray, name: str | None = None) -> str:
        name = name or f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: object) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self.count}", **attrs))
        return out

    def weight(self, *shape: int, scale: float = 0.3) -> str:
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32))

    def model(self, inputs: list[onnx.ValueInfoProto], output: str, shape: list) -> onnx.ModelProto:
        result = helper.make_tensor_value_info(output, TensorProto.FLOAT, shape)
        graph = helper.make_graph(self.nodes, "tiny", inputs, [result], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def _layernorm(b: _Builder, x: str, width: int) -> str:
    gamma = b.const((1.0 + 0.1 * b.rng.standard_normal(width)).astype(np.float32))
    beta = b.const((0.1 * b.rng.standard_normal(width)).astype(np.float32))
    return b.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)


def _linear(b: _Builder, x: str, fan_in: int, fan_out: int) -> str:
    return b.op("Add", [b.op("MatMul", [x, b.weight(fan_in, fan_out)]), b.weight(fan_out, scale=0.1)])


def _erf_gelu(b: _Builder, x: str) -> str:
    """GELU as torch exports it: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    erf = b.op("Erf", [b.op("Div", [x, b.const(np.array(1.4142135, np.float32))])])
    half = b.op("Mul", [x, b.const(np.array(0.5, np.float32))])
    return b.op("Mul", [half, b.op("Add", [erf, b.const(np.array(1.0, np.float32))])])


def tiny_encoder(hidden: int = 16, heads: int = 4, seed: int = 0) -> onnx.ModelProto:
    """One post-LN encoder layer: multi-head self-attention, residual + LayerNorm, erf-GELU FFN.

    Input ``x`` [batch, seq, hidden]; heads appear as a ``Reshape`` to ``[0, 0, -1, head]`` the way
    HF exports write them, so head-count detection has something real to read.
    """
    b = _Builder(seed)
    x = _layernorm(b, "x", hidden)
    shape = b.const(np.array([0, 0, -1, hidden // heads], np.int64))

    def split(t: str, perm: list[int]) -> str:
        return b.op("Transpose", [b.op("Reshape", [t, shape])], perm=perm)

    query = split(_linear(b, x, hidden, hidden), [0, 2, 1, 3])
    key = split(_linear(b, x, hidden, hidden), [0, 2, 3, 1])
    value = split(_linear(b, x, hidden, hidden), [0, 2, 1, 3])
    scale = b.const(np.array(np.sqrt(hidden // heads), np.float32))
    probs = b.op("Softmax", [b.op("Div", [b.op("MatMul", [query, key]), scale])], axis=-1)
    context = b.op("MatMul", [probs, value])
    merged = b.op(
        "Reshape",
        [b.op("Transpose", [context], perm=[0, 2, 1, 3]), b.const(np.array([0, 0, hidden], np.int64))],
    )
    attended = _layernorm(b, b.op("Add", [_linear(b, merged, hidden, hidden), x]), hidden)
    inner = _erf_gelu(b, _linear(b, attended, hidden, 4 * hidden))
    out = _layernorm(b, b.op("Add", [_linear(b, inner, 4 * hidden, hidden), attended]), hidden)
    return b.model(
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", hidden])],
        out,
        ["batch", "seq", hidden],
    )


def encoder_inputs(
    hidden: int = 16, batches: int = 4, seed: int = 1, outlier: float = 40.0
) -> list[np.ndarray]:
    """Inputs with two outlier channels, the activation shape SmoothQuant is for."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(batches):
        x = rng.standard_normal((2, 8, hidden)).astype(np.float32)
        x[..., 3] *= outlier
        x[..., 11 % hidden] *= outlier / 2
        out.append(x)
    return out


def conv_chain(seed: int = 0, clip: bool = True) -> onnx.ModelProto:
    """Conv -> Clip(0,6)/Relu -> depthwise Conv -> Clip/Relu -> 1x1 Conv -> GAP -> Gemm, with
    depthwise channel ranges spread over two orders of magnitude (the case CLE is for)."""
    b = _Builder(seed)
    act = (
        (lambda x: b.op("Clip", [x, b.const(np.array(0.0, np.float32)), b.const(np.array(6.0, np.float32))]))
        if clip
        else (lambda x: b.op("Relu", [x]))
    )
    stem = b.op("Conv", ["image", b.weight(8, 3, 3, 3, scale=0.4), b.weight(8, scale=0.1)], pads=[1, 1, 1, 1])
    spread = (np.logspace(-1.5, 0.5, 8)[:, None, None, None] * b.rng.standard_normal((8, 1, 3, 3))).astype(
        np.float32
    )
    dw = b.op("Conv", [act(stem), b.const(spread), b.weight(8, scale=0.1)], group=8, pads=[1, 1, 1, 1])
    project = b.op("Conv", [act(dw), b.weight(12, 8, 1, 1, scale=0.5), b.weight(12, scale=0.1)])
    pooled = b.op("Flatten", [b.op("GlobalAveragePool", [project])])
    logits = b.op("Gemm", [pooled, b.weight(5, 12, scale=0.5), b.weight(5, scale=0.1)], transB=1)
    return b.model(
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 12, 12])],
        logits,
        ["batch", 5],
    )


def images(batches: int = 4, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((4, 3, 12, 12)) + 0.5).astype(np.float32) for _ in range(batches)]


def run(model: onnx.ModelProto, batches: list[np.ndarray]) -> np.ndarray:
    from lpot_onnxrt.sessions import feeds, make_session

    session = make_session(model)
    return np.concatenate([session.run(None, feeds(session, x))[0] for x in batches])


def fixed_range_qdq(model: onnx.ModelProto, batches: list[np.ndarray], **options: object):
    """A static QDQ quantizer (U8 activations, S8 weights) whose ranges come from ``model`` once:
    what bias correction and SmoothQuant's search need (lpot's cached calibration behaves alike)."""
    import tempfile

    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import save_and_reload_model_with_shape_infer

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{model.graph.input[0].name: x} for x in batches])

        def get_next(self):
            return next(self.items, None)

    def ranges_of(m: onnx.ModelProto):
        with tempfile.TemporaryDirectory() as tmp:
            onnx.save(m, f"{tmp}/m.onnx")
            calibrator = create_calibrator(
                f"{tmp}/m.onnx",
                None,
                augmented_model_path=f"{tmp}/a.onnx",
                calibrate_method=CalibrationMethod.MinMax,
            )
            calibrator.collect_data(Reader())
            return calibrator.compute_data()

    fixed = ranges_of(model) if not options.pop("recalibrate", False) else None

    def quantize(m: onnx.ModelProto) -> onnx.ModelProto:
        types = options.get("op_types", ["Conv", "Gemm", "MatMul"])
        quantizer = QDQQuantizer(
            save_and_reload_model_with_shape_infer(m),
            options.get("per_channel", False),
            False,
            QuantType.QInt8,
            QuantType.QUInt8,
            fixed or ranges_of(m),
            [],
            [],
            types,
            options.get("extra", {}),
        )
        quantizer.quantize_model()
        return quantizer.model.model

    return quantize
