"""lpot backend for MXNet Gluon. Importing it does not import mxnet: the backend loads it on use."""

from lpot_mxnet.amx import enable_amx, isa_allows_amx, request_amx_permission
from lpot_mxnet.version import __version__

if isa_allows_amx():
    # DNNL_MAX_CPU_ISA asks MXNet's oneDNN 2.4 for AMX, which it never asks Linux for: without the
    # permission the first AMX instruction kills the process (SIGILL). Cheap, and mxnet-free.
    request_amx_permission()

__all__ = ["MXNetBackend", "MXNetEngine", "__version__", "enable_amx"]


def __getattr__(name: str) -> object:
    if name in ("MXNetEngine", "MXNetBackend"):  # MXNetBackend: the name earlier releases used
        from lpot_mxnet.engine import MXNetEngine

        return MXNetEngine
    raise AttributeError(f"module 'lpot_mxnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (``__all__``), loaded or not, without the helpers this module imports."""
    return sorted(__all__)
