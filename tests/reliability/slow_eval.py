"""Evaluation functions that hang, for the timeout cases (module level: the local executor's
workers import them)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lpot_toy.known_answer import Accuracy
from lpot_toy.model import QuantizedMLP


class HangsOnInt8:
    """Real accuracy of the FP32 model; an INT8 model's evaluation never returns while ``flag``
    exists (``busy``: spinning in Python rather than sleeping)."""

    def __init__(self, flag: Path, busy: bool = False, fp32_too: bool = False) -> None:
        self.flag, self.busy, self.fp32_too = Path(flag), busy, fp32_too
        self.accuracy = Accuracy()

    def __call__(self, model: Any) -> float:
        if (isinstance(model, QuantizedMLP) or self.fp32_too) and self.flag.exists():
            while True:
                if not self.busy:
                    time.sleep(0.05)
        return self.accuracy(model)
