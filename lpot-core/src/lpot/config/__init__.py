"""Configuration: dataclass schema and the YAML/dict loader (LPOT 1.x layout accepted)."""

from lpot.config.loader import load_config
from lpot.config.schema import (
    AccuracyConfig,
    AccuracyCriterion,
    CalibrationConfig,
    Config,
    EvaluationConfig,
    ExitPolicy,
    MetricConfig,
    ModelConfig,
    PerformanceConfig,
    QuantizationConfig,
    StrategyConfig,
    TensorRules,
    TuningConfig,
    WorkspaceConfig,
)

__all__ = [
    "AccuracyConfig",
    "AccuracyCriterion",
    "CalibrationConfig",
    "Config",
    "EvaluationConfig",
    "ExitPolicy",
    "MetricConfig",
    "ModelConfig",
    "PerformanceConfig",
    "QuantizationConfig",
    "StrategyConfig",
    "TensorRules",
    "TuningConfig",
    "WorkspaceConfig",
    "load_config",
]
