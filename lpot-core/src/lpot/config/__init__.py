"""Configuration: the dataclass schema and the YAML/dict loader (LPOT 1.x layout accepted)."""

from lpot.config import schema
from lpot.config.loader import load_config
from lpot.config.schema import *  # noqa: F403  (the classes listed in schema.__all__)

__all__ = [*schema.__all__, "load_config"]
