"""Saving without pickle: TorchScript for running, a weights-only state dict for rebuilding.

- ``model.pt``: the converted model as TorchScript (``torch.jit.script``; ``trace`` on a recorded
  example batch when scripting fails). ``load`` returns it: a callable that runs the same INT8
  kernels, with no Python class of the user needed.
- ``state_dict.pt`` + the recipe: ``rebuild(fp32_model, recipe, state)`` re-applies the recipe to the
  user's FP32 definition and loads the quantized weights with ``torch.load(weights_only=True)``,
  giving back an editable GraphModule.
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from lpot.errors import ModelError
from lpot.recipe import Recipe

MODEL_FILE = "model.pt"
STATE_FILE = "state_dict.pt"
log = logging.getLogger("lpot")


def to_script(model: nn.Module, example: Any = None) -> torch.jit.ScriptModule:
    """A frozen TorchScript copy of ``model``; the model itself is left untouched.

    Works on a deep copy because ``torch.jit.trace`` leaves the quantized modules it ran slower
    (measured: 3.1 -> 4.2 ms per ResNet-18 image) and lpot hands the same model back to the user.
    """
    if isinstance(model, torch.jit.ScriptModule):
        return model
    work = copy.deepcopy(model).eval()
    if isinstance(work, fx.GraphModule):
        _drop_annotations(work)
    try:
        scripted = torch.jit.script(work)
    except Exception as script_error:
        if example is None:
            raise ModelError(
                f"cannot save {type(model).__name__} as TorchScript ({type(script_error).__name__}: "
                f"{_first_line(script_error)}); run it once through lpot (evaluate or calibrate) "
                "so an example batch can be traced instead"
            ) from script_error
        with torch.no_grad():
            scripted = torch.jit.trace(work, example if isinstance(example, tuple) else (example,))
    return torch.jit.freeze(scripted.eval())


def _drop_annotations(graph_module: fx.GraphModule) -> None:
    """Annotations of a forward written under ``from __future__ import annotations`` come out of
    fx's code generator as names TorchScript cannot resolve (``_torch_Tensor_``); unannotated
    inputs and outputs default to Tensor, which is what they are."""
    for node in graph_module.graph.nodes:
        if node.op in ("placeholder", "output"):
            node.type = None
    graph_module.recompile()


def _first_line(exc: Exception) -> str:
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), "")


def script_bytes(model: nn.Module, example: Any = None) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(to_script(model, example), buffer)
    return buffer.getvalue()


def save(model: nn.Module, path: Path, example: Any = None) -> Path:
    path = Path(path)
    folder = path if path.is_dir() or not path.suffix else path.parent
    file = path if path.suffix else folder / MODEL_FILE
    folder.mkdir(parents=True, exist_ok=True)
    if not isinstance(model, torch.jit.ScriptModule):
        torch.save(model.state_dict(), folder / STATE_FILE)
    try:
        file.write_bytes(script_bytes(model, example))
    except ModelError as exc:  # the weights are safe; only the standalone program is missing
        log.warning("%s; wrote %s only (rebuild it with lpot_pytorch.serialization.rebuild)", exc, STATE_FILE)
        return folder / STATE_FILE
    return file


def load(path: Path) -> torch.jit.ScriptModule:
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.is_file():
        raise ModelError(f"{file}: no such file (lpot-pytorch saves {MODEL_FILE} in the output folder)")
    try:
        return torch.jit.load(str(file), map_location="cpu").eval()
    except Exception as exc:
        raise ModelError(f"{file}: not a TorchScript archive written by lpot-pytorch ({exc})") from exc


def rebuild(model: nn.Module, recipe: Recipe, folder: Path) -> nn.Module:
    """The quantized GraphModule again, from the FP32 definition + recipe + weights-only state dict."""
    from lpot_pytorch import fx
    from lpot_pytorch.quantizer import quantize

    state = torch.load(Path(folder) / STATE_FILE, weights_only=True, map_location="cpu")
    if recipe.approach == "post_training_static_quant" and recipe.quantized_ops():
        prepared = fx.prepare(model, recipe)
        fx.set_ranges(prepared, {name: (0.0, 1.0) for name in fx.observers(prepared)})  # overwritten below
        rebuilt = fx.convert(prepared, recipe)
    else:
        rebuilt = quantize(model, recipe, {}, q_func=lambda m: None)
    rebuilt.load_state_dict(state)
    return rebuilt


def state_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, buffer)
    else:
        torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def content_bytes(model: nn.Module) -> bytes:
    """What defines the model, deterministically: its class, then each state tensor's name, shape,
    dtype and raw bytes (INT8 tensors as stored). Hashed for resume, counted as the model's size."""
    if isinstance(model, torch.jit.ScriptModule):  # frozen: the weights are constants of the program
        return state_bytes(model)
    parts = [type(model).__qualname__.encode()]
    for name, value in model.state_dict().items():
        _append(parts, name, value)
    return b"".join(parts)


def _append(parts: list[bytes], name: str, value: Any) -> None:
    """A state entry's bytes. Quantized Linear keeps its INT8 weight and bias in a tuple
    (``_packed_params._packed_params``): skipping non-tensors would leave every Linear out."""
    if isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            _append(parts, f"{name}[{i}]", item)
        return
    if not isinstance(value, torch.Tensor):
        parts.append(f"{name}={value!r};".encode())  # dtypes, scales, zero points
        return
    tensor = value
    if tensor.is_quantized:
        parts.append(f"{name}:q:{tensor.qscheme()}:{_qparams(tensor)};".encode())
        tensor = tensor.int_repr()
    parts.append(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
    parts.append(tensor.detach().contiguous().view(-1).view(torch.uint8).numpy().tobytes())


def _qparams(tensor: torch.Tensor) -> str:
    if tensor.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        scales = tensor.q_per_channel_scales().numpy().tobytes()
        return hashlib.sha256(scales).hexdigest()[:16]
    return f"{tensor.q_scale()}:{tensor.q_zero_point()}"
