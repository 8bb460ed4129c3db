"""``lpot.experimental.common``: the model, data, metric and postprocess wrappers of LPOT 1.x scripts."""

from lpot.experimental.common.dataloader import DataLoader
from lpot.experimental.common.metric import Metric
from lpot.experimental.common.model import Model
from lpot.experimental.common.postprocess import Postprocess

__all__ = ["DataLoader", "Metric", "Model", "Postprocess"]
