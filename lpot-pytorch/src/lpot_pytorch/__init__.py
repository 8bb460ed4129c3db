"""lpot's PyTorch backend: INT8 and BF16 through torch.fx graph passes.

Importing this package does not import torch; the engine and the passes do, when first used.
``PyTorchBackend`` is the name earlier releases and the README use for :class:`PyTorchEngine`.
"""

from __future__ import annotations

from typing import Any

from lpot_pytorch.version import __version__

__all__ = ["PyTorchBackend", "PyTorchEngine", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("PyTorchEngine", "PyTorchBackend"):
        from lpot_pytorch.engine import PyTorchEngine

        return PyTorchEngine
    raise AttributeError(f"module 'lpot_pytorch' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (``__all__``), loaded or not, without the helpers this module imports."""
    return sorted(__all__)
