"""lpot backend for ONNX Runtime. The backend class loads onnx/onnxruntime only when used."""

from lpot_onnxrt.version import __version__

__all__ = ["__version__"]
