"""Running a torch model on the zoo's numpy batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def predictor(model: Any, output: str | None = None) -> Callable[[Any], np.ndarray]:
    """``inputs -> numpy output`` under ``no_grad``; dict inputs become keyword arguments, and a
    dict / ModelOutput result is read at key ``output``."""
    import torch

    def predict(inputs: Any) -> np.ndarray:
        with torch.no_grad():
            if isinstance(inputs, dict):
                out = model(**{k: torch.from_numpy(np.asarray(v)) for k, v in inputs.items()})
            else:
                out = model(torch.from_numpy(np.asarray(inputs)))
        if output is not None:
            out = out[output]
        return out.numpy()

    return predict
