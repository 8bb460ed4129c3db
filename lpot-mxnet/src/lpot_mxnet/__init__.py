"""lpot backend for MXNet Gluon. Importing it does not import mxnet: the backend loads it on use."""

from lpot_mxnet.version import __version__

__all__ = ["__version__"]
