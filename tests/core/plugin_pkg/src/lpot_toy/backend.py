"""lpot backend over the numpy MLP: calibrate ranges, quantize per recipe, evaluate, save as .npz."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult, CalibrationSpec, Stats
from lpot.data import split_batch
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


class ToyBackend:
    name = "toy"
    calibrate_calls = 0  # class-wide, so tests can count calibration passes

    def accepts(self, model: object) -> bool:
        return isinstance(model, (MLP, QuantizedMLP)) or (
            isinstance(model, (str, Path)) and str(model).endswith(".mlp.npz")
        )

    def load_model(self, model: object) -> object:
        if isinstance(model, (str, Path)):
            return self.load(Path(model))
        return model

    def fingerprint(self, model: object) -> str:
        return model.fingerprint()

    def capability(self, model: MLP, approach: str = "post_training_static_quant") -> Capability:
        ops = {OpKey(name, OP_TYPE): CAPABILITY for name, _, _ in model.layers}
        return Capability(
            optypewise={OP_TYPE: CAPABILITY}, opwise=ops, approaches=("post_training_static_quant",)
        )

    def calibrate(self, model: MLP, dataloader: Iterable[Any], spec: CalibrationSpec) -> Stats:
        type(self).calibrate_calls += 1
        seen: dict[str, list[np.ndarray]] = {}
        n = 0
        for batch in dataloader:
            x, _ = split_batch(batch)
            x = np.asarray(x, dtype=np.float32)
            n += len(x)
            inputs = [x.reshape(len(x), -1), *model.forward(x)[:-1]]
            for (name, _, _), h in zip(model.layers, inputs):
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
        self, model: MLP, recipe: Recipe, stats: Mapping[str, Stats], dataloader: Any = None
    ) -> QuantizedMLP:
        layers: list[object] = []
        for name, w, b in model.layers:
            cfg = recipe.op(OpKey(name, OP_TYPE))
            if not cfg.is_quantized:
                layers.append((name, w, b))
                continue
            lo, hi = stats[cfg.activation.algorithm or "minmax"].ranges[name]
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
            layers.append(QuantizedLayer(name, wq, np.asarray(wscale, np.float32), b, scale, zero, dtype))
        return QuantizedMLP(layers, recipe.to_json())

    def evaluate(self, model: Any, dataloader: Iterable[Any], metric: Any) -> float:
        metric.reset()
        for batch in dataloader:
            x, y = split_batch(batch)
            metric.update(model(x), y)
        return metric.result()

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        return model(inputs)

    def inspect(self, model: Any, dataloader: Iterable[Any], ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        wanted = {op.name for op in ops}
        names = [layer[0] if isinstance(layer, tuple) else layer.name for layer in model.layers]
        out: dict[str, list[np.ndarray]] = {}
        for batch in dataloader:
            for name, h in zip(names, model.forward(split_batch(batch)[0])):
                if name in wanted:
                    out.setdefault(name, []).append(h)
        return {k: np.concatenate(v) for k, v in out.items()}

    def benchmark(
        self,
        model: Any,
        dataloader: Iterable[Any],
        *,
        cores_per_instance: int | None = None,
        num_instances: int = 1,
        warmup: int = 1,
        iterations: int = 5,
    ) -> BenchmarkResult:
        x, _ = split_batch(next(iter(dataloader)))
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t0) * 1000)
        mean = float(np.mean(times))
        return BenchmarkResult(
            latency_ms=mean,
            latency_p90_ms=float(np.percentile(times, 90)),
            throughput=len(x) * 1000 / mean,
            batch_size=len(x),
            iterations=iterations,
        )

    def model_size(self, model: Any) -> int:
        buf = io.BytesIO()
        _write(model, buf)
        return buf.tell()

    def save(self, model: Any, path: Path) -> Path:
        path = Path(path)
        file = path / "model.mlp.npz" if path.is_dir() or not path.suffix else path
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(file, "wb") as fh:
            _write(model, fh)
        return file

    def load(self, path: Path) -> Any:
        path = Path(path)
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
