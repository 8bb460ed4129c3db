"""``lpot.utils.pytorch.load(checkpoint_dir, fp32_model)``: the INT8 model a 1.x script saved, rebuilt.

``q_model.save(dir)`` writes ``recipe.json`` and ``state_dict.pt`` (weights only) next to the
TorchScript ``model.pt``; ``load`` re-applies the recipe to the FP32 definition and loads the
weights with ``torch.load(..., weights_only=True)`` (``lpot_pytorch.serialization.rebuild``): no
pickle is ever read. A pruned or distilled model's folder has no recipe: its weights load into a
copy of ``model``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from lpot.errors import ConfigError, FeatureNotAvailableError, ModelError

RECIPE_FILE = "recipe.json"
STATE_FILE = "state_dict.pt"
LPOT1_FILES = ("best_configure.yaml", "best_model_weights.pt")


def load(
    checkpoint_dir: str | os.PathLike[str] | None = None,
    model: Any = None,
    history_cfg: Any = None,
    **kwargs: Any,
) -> Any:
    """The model saved in ``checkpoint_dir``, rebuilt on a copy of ``model`` (the FP32 ``torch.nn.Module``)."""
    from lpot.experimental._imports import framework_module
    from lpot.recipe import Recipe

    if history_cfg is not None:
        raise FeatureNotAvailableError(
            "lpot.utils.pytorch.load(history_cfg=...): LPOT 1.x's tuning-history configs are not read; "
            "load the folder q_model.save(folder) wrote: load(folder, fp32_model)"
        )
    if kwargs:
        raise ConfigError(
            f"lpot.utils.pytorch.load: unexpected arguments {sorted(kwargs)} (custom FX configs are not used)"
        )
    if checkpoint_dir is None or model is None:
        raise ConfigError(
            "lpot.utils.pytorch.load(checkpoint_dir, model): give the saved folder and the FP32 model"
        )
    folder = Path(checkpoint_dir).expanduser()
    if not folder.is_dir():
        raise ModelError(f"lpot.utils.pytorch.load: {str(checkpoint_dir)!r} is not a folder")
    serialization = framework_module("lpot_pytorch.serialization", "lpot-pytorch")
    if (folder / RECIPE_FILE).is_file():
        recipe = Recipe.from_json((folder / RECIPE_FILE).read_text())
        return serialization.rebuild(copy.deepcopy(model), recipe, folder).eval()
    if (folder / STATE_FILE).is_file():  # an FP32 model (pruned, distilled): weights only
        return serialization.rebuild(copy.deepcopy(model), Recipe(), folder).eval()
    if all((folder / name).is_file() for name in LPOT1_FILES):
        raise ModelError(
            f"{folder}: written by LPOT 1.x (best_configure.yaml + a pickled best_model_weights.pt), "
            "which lpot does not read; quantize again with lpot and save with q_model.save(folder)"
        )
    raise ModelError(f"{folder}: no {RECIPE_FILE} / {STATE_FILE}; give the folder q_model.save(folder) wrote")
