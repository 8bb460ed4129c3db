"""lpot engine over the numpy MLP: calibrate ranges, quantize per recipe, run, save as .npz."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lpot.engine import CalibrationSpec, Feature, Optimized, QuantizeContext, Stats
from lpot.errors import DataError, ModelError
from lpot.recipe import Capability, OpCapability, OpKey, Recipe, TensorChoices
from lpot_toy.model import MLP, QuantizedLayer, QuantizedMLP

OP_TYPE = "Dense"
CAPABILITY = OpCapability(
    activation=TensorChoices(
        dtype=("uint8", "int8", "fp32"), scheme=("asym", "sym"), algorithm=("minmax", "percentile")
    ),
    weight=TensorChoices(dtype=("int8", "fp32"), scheme=("sym",), granularity=("per_channel", "per_tensor")),
)


class ToyEngine:
    """The worked example of a fifth backend (docs/architecture.md): the whole engine contract."""

    name = "toy"
    aliases = {  # the LPOT-style framework names it also answers to
        "numpy_mlp": {},
        "numpy_gpu": {"unavailable": "the toy backend runs on the CPU only; use framework: numpy_mlp"},
    }
    features = frozenset({Feature.INSPECT, Feature.OPTIMIZE})
    calibrate_calls = 0  # class-wide, so tests can count calibration passes

    def accepts(self, model: object) -> bool:
        return isinstance(model, (MLP, QuantizedMLP)) or (
            isinstance(model, (str, Path)) and str(model).endswith(".mlp.npz")
        )

    def load(self, model: object) -> object:
        if isinstance(model, (str, Path)):
            return self.read(Path(model))
        return model

    def capability(self, model: MLP, approach: str, objective: str) -> Capability:
        ops = {OpKey(name, OP_TYPE): CAPABILITY for name, _, _ in model.layers}
        return Capability(
            opwise=ops,
            approaches=("post_training_static_quant",),
            tensors={name: (name,) for name, _, _ in model.layers},  # each layer's input range
        )

    def calibrate(self, model: MLP, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
        type(self).calibrate_calls += 1
        seen: dict[str, list[np.ndarray]] = {}
        n = 0
        for inputs in batches:
            x = _numbers(inputs)
            n += len(x)
            layer_inputs = [x.reshape(len(x), -1), *model.forward(x)[:-1]]
            for (name, _, _), h in zip(model.layers, layer_inputs):
                seen.setdefault(name, []).append(h.ravel())
        if n == 0:
            raise DataError("calibration dataloader yielded no samples")
        ranges = {}
        for name, chunks in seen.items():
            values = np.concatenate(chunks)
            if spec.algorithm == "percentile":
                ranges[name] = (float(np.percentile(values, 0.1)), float(np.percentile(values, 99.9)))
            else:
                ranges[name] = (float(values.min()), float(values.max()))
        return Stats(spec=spec, ranges=ranges, samples_seen=n)

    def quantize(
        self, model: MLP, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> QuantizedMLP:
        layers: list[object] = []
        for name, w, b in model.layers:
            cfg = recipe.op(OpKey(name, OP_TYPE))
            if not cfg.is_quantized:
                layers.append((name, w, b))
                continue
            layers.append(_quantized_layer(name, w, b, cfg, ranges[name]))
        return QuantizedMLP(layers, recipe.to_json())

    def optimize(self, model: MLP, precisions: tuple[str, ...], keep_fp32: frozenset[str]) -> Optimized:
        """BF16: each layer's weights rounded to BF16's 8-bit mantissa (computed in float32, as a
        CPU without BF16 units would); FP32: nothing to rewrite in a chain of dense layers."""
        if "bf16" not in precisions:
            return Optimized(model=model, details={"rewrites": "none (dense layers only)"})
        layers, lowered = [], []
        for name, w, b in model.layers:
            if name in keep_fp32:
                layers.append((name, w, b))
            else:
                layers.append((name, _bf16(w), b))
                lowered.append(name)
        return Optimized(model=MLP(layers), low_precision_ops=tuple(lowered))

    def predict(self, model: Any, inputs: Any) -> dict[str, np.ndarray]:
        return {"logits": model(_numbers(inputs))}

    def inspect(self, model: Any, inputs: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        wanted = {op.name for op in ops}
        names = [layer[0] if isinstance(layer, tuple) else layer.name for layer in model.layers]
        return {name: h for name, h in zip(names, model.forward(_numbers(inputs))) if name in wanted}

    def set_threads(self, threads: int | None) -> None:
        pass  # numpy's BLAS sizes its own pool

    def runner(self, model: Any) -> Any:
        return lambda inputs: lambda: model(inputs)

    def serialize(self, model: Any) -> bytes:
        buf = io.BytesIO()
        _write(model, buf)
        return buf.getvalue()

    def save(self, model: Any, folder: Path) -> Path:
        file = Path(folder) / "model.mlp.npz"
        with open(file, "wb") as fh:
            _write(model, fh)
        return file

    def read(self, path: Path) -> Any:
        path = Path(path)
        if path.is_dir():
            path = path / "model.mlp.npz"
        if not path.exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["kind"] == "fp32":
                return MLP([(n, data[f"{n}.w"], data[f"{n}.b"]) for n in meta["names"]])
            layers: list[object] = []
            for n, q in zip(meta["names"], meta["quantized"]):
                if q is None:
                    layers.append((n, data[f"{n}.w"], data[f"{n}.b"]))
                else:
                    layers.append(QuantizedLayer(n, data[f"{n}.wq"], data[f"{n}.ws"], data[f"{n}.b"], *q))
            return QuantizedMLP(layers, meta.get("recipe", ""))


def _numbers(inputs: Any) -> np.ndarray:
    """The batch as float32; text or objects are a DataError naming the dtype."""
    array = np.asarray(inputs)
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"the toy MLP takes numbers; the batch has dtype {array.dtype} ({array.dtype.kind!r} data)"
        )
    return array.astype(np.float32, copy=False)


def _quantized_layer(
    name: str, w: np.ndarray, b: np.ndarray, cfg: Any, rng: tuple[float, float]
) -> QuantizedLayer:
    lo, hi = rng
    dtype = cfg.activation.dtype
    if cfg.activation.scheme == "sym" or dtype == "int8":
        bound = max(abs(lo), abs(hi), 1e-8)
        scale, zero = (bound / 127.0, 0) if dtype == "int8" else (bound / 255.0, 0)
    else:
        lo, hi = min(lo, 0.0), max(hi, 1e-8)
        scale = (hi - lo) / 255.0
        zero = int(round(-lo / scale))
    per_channel = cfg.weight is not None and cfg.weight.granularity == "per_channel"
    wmax = np.abs(w).max(axis=0) if per_channel else np.abs(w).max()
    wscale = np.maximum(wmax, 1e-8) / 127.0
    wq = np.clip(np.round(w / wscale), -127, 127).astype(np.int8)
    return QuantizedLayer(name, wq, np.asarray(wscale, np.float32), b, scale, zero, dtype)


def _write(model: Any, fh: Any) -> None:
    arrays: dict[str, np.ndarray] = {}
    if isinstance(model, MLP):
        meta = {"kind": "fp32", "names": [n for n, _, _ in model.layers]}
        for n, w, b in model.layers:
            arrays[f"{n}.w"], arrays[f"{n}.b"] = w, b
    else:
        meta = {"kind": "int8", "names": [], "quantized": [], "recipe": model.recipe_json}
        for layer in model.layers:
            if isinstance(layer, QuantizedLayer):
                meta["names"].append(layer.name)
                meta["quantized"].append([layer.act_scale, layer.act_zero, layer.act_dtype])
                arrays[f"{layer.name}.wq"], arrays[f"{layer.name}.ws"] = layer.weight_q, layer.weight_scale
                arrays[f"{layer.name}.b"] = layer.bias
            else:
                n, w, b = layer
                meta["names"].append(n)
                meta["quantized"].append(None)
                arrays[f"{n}.w"], arrays[f"{n}.b"] = w, b
    np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)


def save_file(model: Any, path: Path) -> Path:
    """Write ``model`` to the file ``path`` (``*.mlp.npz``), for tests and examples."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        _write(model, fh)
    return path


def toy_backend() -> Any:
    """The core adapter around a :class:`ToyEngine`, as ``lpot.plugins.backend_by_name("toy")`` gives."""
    from lpot.backend import Backend

    return Backend(ToyEngine(), registered="toy")


def _bf16(values: np.ndarray) -> np.ndarray:
    """float32 rounded to the nearest bfloat16 (the top 16 bits, round half to even)."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)
