"""Saving without pickle and without TorchScript (deprecated in torch 2.13).

- ``state_dict.pt``: the weights, INT8 ones as stored, read back with ``torch.load(weights_only=True)``;
  with the recipe (``recipe.json``, written next to it by lpot), :func:`rebuild` re-applies the recipe
  to the user's FP32 definition and loads them: the same GraphModule, the same INT8 kernels
  (``lpot.utils.pytorch.load(folder, fp32_model)`` is the LPOT 1.x name for it).
- ``model.pt2``: a ``torch.export`` program, where the model exports (FP32 and BF16 results). torch
  cannot export its legacy quantized modules (their packed weights are TorchBind objects without
  ``__obj_flatten__``), so an INT8 result has no standalone program: rebuild it.
- ``pt2e.json`` (results of the torch.export + pt2e lowering): which modules are INT8, the
  activation ranges and the exported inputs' shapes; ``state_dict.pt`` then holds the converted
  graph's INT8 weights (not the oneDNN-packed ones the lowered graph calls), and :func:`rebuild`
  exports, converts and lowers the FP32 model again with them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lpot.errors import ModelError
from lpot.recipe import Recipe

STATE_FILE = "state_dict.pt"
PROGRAM_FILE = "model.pt2"
PT2E_FILE = "pt2e.json"
log = logging.getLogger("lpot")


def _exported(model: nn.Module, example: Any) -> Any:
    """``torch.export`` of ``model`` on ``example`` inputs, or None where it cannot export."""
    if example is None or any(".quantized" in type(m).__module__ for m in model.modules()):
        return None
    from lpot_pytorch.tensors import to_torch

    example = to_torch(example)
    args, kwargs = (
        ((), example)
        if isinstance(example, dict)
        else ((example,) if not isinstance(example, tuple) else example, {})
    )
    try:
        return torch.export.export(copy.deepcopy(model).eval(), args, kwargs)
    except Exception as exc:  # data-dependent Python: the weights + recipe still rebuild it
        log.info("torch.export could not export %s (%s); saving its weights only", type(model).__name__, exc)
        return None


def save(model: nn.Module, folder: Path, example: Any = None) -> Path:
    """``state_dict.pt`` (+ ``model.pt2`` where the model exports) in ``folder``; the main file."""
    from lpot_pytorch.pt2e import made_by_pt2e

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = made_by_pt2e(model)
    if made is not None:  # the lowered graph's packed weights are oneDNN's: save the plain INT8 ones
        torch.save(made["state"], folder / STATE_FILE)
        record = {k: v for k, v in made.items() if k != "state"}
        (folder / PT2E_FILE).write_text(json.dumps(record, indent=1, sort_keys=True))
        return folder / STATE_FILE
    torch.save(model.state_dict(), folder / STATE_FILE)
    program = _exported(model, example)
    if program is None:
        return folder / STATE_FILE
    torch.export.save(program, folder / PROGRAM_FILE)
    return folder / PROGRAM_FILE


def load(path: Path) -> nn.Module:
    """The ``torch.export`` program ``save`` wrote; an INT8 result is rebuilt with :func:`rebuild`."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    program = folder / PROGRAM_FILE
    if program.is_file():
        try:
            return torch.export.load(str(program)).module()
        except Exception as exc:
            raise ModelError(
                f"{program}: not a torch.export program written by lpot-pytorch ({exc})"
            ) from exc
    if (folder / STATE_FILE).is_file():
        raise ModelError(
            f"{folder} holds a quantized model's weights ({STATE_FILE}) and recipe, not a standalone "
            "program: rebuild it on your FP32 model with lpot.utils.pytorch.load(folder, fp32_model)"
        )
    raise ModelError(f"{path}: no {PROGRAM_FILE} or {STATE_FILE} written by lpot-pytorch there")


def rebuild(model: nn.Module, recipe: Recipe, folder: Path) -> nn.Module:
    """The quantized GraphModule again, from the FP32 definition + recipe + weights-only state dict."""
    from lpot_pytorch import fx
    from lpot_pytorch.kernels import pack_for_speed
    from lpot_pytorch.quantizer import quantize

    state = torch.load(Path(folder) / STATE_FILE, weights_only=True, map_location="cpu")
    if (Path(folder) / PT2E_FILE).is_file():
        return rebuild_pt2e(model, Path(folder), state)
    if recipe.approach == "post_training_static_quant" and recipe.quantized_ops():
        prepared = fx.prepare(model, recipe)
        fx.set_ranges(prepared, {name: (0.0, 1.0) for name in fx.observers(prepared)})  # overwritten below
        rebuilt = fx.convert(prepared, recipe)
    else:
        rebuilt = quantize(model, recipe, {}, q_func=lambda m: None)
    rebuilt.load_state_dict(state)  # packs the INT8 weights again, for the process-wide engine
    pack_for_speed(rebuilt)
    return rebuilt


def rebuild_pt2e(model: nn.Module, folder: Path, state: dict[str, Any]) -> nn.Module:
    """A pt2e result again: export the FP32 model, quantize as recorded, load the INT8 weights, lower
    (or compile, where the saved model was compiled: the compile of the same graph is cached on disk)."""
    from lpot_pytorch import pt2e

    try:
        made = json.loads((folder / PT2E_FILE).read_text())
        inputs, ops = made["inputs"], made["ops"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{folder / PT2E_FILE}: not written by lpot-pytorch ({exc})") from exc
    missing = sorted(set(ops) - {name for name, _ in model.named_modules()})
    if missing:
        raise ModelError(f"{folder} was saved from another model: it has no module {', '.join(missing[:3])}")
    return pt2e.build(pt2e.export(model, inputs), made, state, compiled=bool(made.get("compiled")))


def content_bytes(model: nn.Module) -> bytes:
    """What defines the model, deterministically: its class, then each state tensor's name, shape,
    dtype and raw bytes (INT8 tensors as stored). Hashed for resume, counted as the model's size."""
    from lpot_pytorch.pt2e import made_by_pt2e

    parts = [type(model).__qualname__.encode()]
    made = made_by_pt2e(model)
    if made is not None:  # the activation ranges live in the graph, the INT8 weights in the record
        parts.append(json.dumps({k: v for k, v in made.items() if k != "state"}, sort_keys=True).encode())
    for name, value in (made["state"] if made is not None else model.state_dict()).items():
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
