"""lpot backend for ONNX Runtime. The engine loads onnx/onnxruntime only when used.

``OnnxRuntimeBackend`` is the name earlier releases used for :class:`OnnxRuntimeEngine`.
"""

from __future__ import annotations

from typing import Any

from lpot_onnxrt.version import __version__

__all__ = ["OnnxRuntimeBackend", "OnnxRuntimeEngine", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("OnnxRuntimeEngine", "OnnxRuntimeBackend"):
        from lpot_onnxrt.engine import OnnxRuntimeEngine

        return OnnxRuntimeEngine
    raise AttributeError(f"module 'lpot_onnxrt' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (``__all__``), loaded or not, without the helpers this module imports."""
    return sorted(__all__)
