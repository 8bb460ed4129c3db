"""``common.Postprocess``: a user transform applied to the model's outputs before the metric.

As in LPOT 1.x, ``postprocess_cls(**kwargs)`` is called with one ``(predictions, labels)`` sample
and returns the pair the metric updates with; it replaces the config's
``evaluation.accuracy.postprocess`` for that component.
"""

from __future__ import annotations

from typing import Any

from lpot.errors import ConfigError


class Postprocess:
    def __init__(self, postprocess_cls: Any, name: str = "user_postprocess", **kwargs: Any) -> None:
        if not callable(postprocess_cls):
            raise ConfigError(
                f"common.Postprocess: {postprocess_cls!r} is not a class to build the transform with"
            )
        self.postprocess_cls, self.name, self.kwargs = postprocess_cls, name, kwargs

    def transform(self) -> Any:
        """The transform in lpot's calling convention: ``t(preds, labels, rng) -> (preds, labels)``."""
        try:
            built = self.postprocess_cls(**self.kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"common.Postprocess {self.name!r}: bad parameters {self.kwargs!r}: {exc}"
            ) from None
        return _OnePairTransform(built, self.name)

    def __repr__(self) -> str:
        return f"Postprocess({getattr(self.postprocess_cls, '__name__', self.postprocess_cls)!r}, name={self.name!r})"


class _OnePairTransform:
    """LPOT 1.x's ``transform((preds, labels)) -> (preds, labels)`` as an lpot postprocess step."""

    def __init__(self, transform: Any, name: str) -> None:
        self.transform, self.name = transform, name

    def __call__(self, preds: Any, labels: Any, rng: Any = None) -> tuple[Any, Any]:
        out = self.transform((preds, labels))
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ConfigError(
                f"postprocess {self.name!r} must return a (predictions, labels) pair, got {type(out).__name__}"
            )
        return out[0], out[1]
