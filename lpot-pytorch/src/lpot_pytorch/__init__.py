"""lpot's PyTorch backend: INT8 and BF16 through torch.fx graph passes.

Importing this package does not import torch; the backend and the passes do, when first used.
"""

from lpot_pytorch.version import __version__

__all__ = ["__version__"]
