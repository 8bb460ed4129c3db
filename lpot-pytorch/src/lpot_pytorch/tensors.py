"""Crossing between lpot's batches (numpy, dicts of numpy, or torch tensors) and torch calls."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def to_torch(inputs: Any) -> Any:
    """numpy -> tensor (float64 becomes float32, as models are float32); dicts, lists and tuples recurse."""
    if isinstance(inputs, torch.Tensor):
        return inputs
    if isinstance(inputs, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(inputs))
        return tensor.float() if tensor.dtype == torch.float64 else tensor
    if isinstance(inputs, dict):
        return {k: to_torch(v) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(to_torch(v) for v in inputs)
    return inputs


def call(model: Any, inputs: Any) -> Any:
    """Run one batch: a dict is passed as keyword arguments, a tuple as positional ones."""
    inputs = to_torch(inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, tuple):
        return model(*inputs)
    return model(inputs)


def first_output(outputs: Any) -> torch.Tensor:
    """The first tensor of whatever the model returned (a tensor, tuple/list or dict)."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        return first_output(next(iter(outputs.values())))
    if isinstance(outputs, (list, tuple)) and outputs:
        return first_output(outputs[0])
    raise TypeError(f"the model returned {type(outputs).__name__}, not a tensor")


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Dequantized, float32, detached numpy (quantized and BF16 tensors included)."""
    if tensor.is_quantized:
        tensor = tensor.dequantize()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()


def named_outputs(outputs: Any, prefix: str = "output") -> dict[str, np.ndarray]:
    """Every tensor a model returned, by name: ``output`` for a tensor, ``output_0``... for a tuple or
    list, the keys of a dict (a Hugging Face ``ModelOutput`` is one), in the model's order."""
    if isinstance(outputs, torch.Tensor):
        return {prefix: to_numpy(outputs)}
    out: dict[str, np.ndarray] = {}
    if isinstance(outputs, dict):
        for key, value in outputs.items():
            if value is not None:
                out.update(named_outputs(value, str(key)))
        return out
    if isinstance(outputs, (list, tuple)):
        for i, value in enumerate(outputs):
            out.update(named_outputs(value, f"{prefix}_{i}"))
        return out
    raise TypeError(f"the model returned {type(outputs).__name__}, not tensors")


def predict(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        return named_outputs(call(model, inputs))
