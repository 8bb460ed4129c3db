"""LPOT 1.x's top-level ``lpot.Quantization`` and ``lpot.Benchmark``.

1.0-1.6 scripts call them with the model and data as arguments::

    quantizer = lpot.Quantization("conf.yaml")
    q_model = quantizer(model, q_dataloader=calib, eval_func=evaluate)   # the tuned native model
    quantizer.metric("my_metric", MyMetric)                              # methods, not attributes
    results = lpot.Benchmark("conf.yaml")(q_model)                       # every configured mode

and 1.2 set the component attributes instead (``quantizer.model = ...; quantizer()``), which works
too. A PyTorch model tuned through the call is also saved to ``<workspace>/checkpoint``, where 1.x
scripts load it from with ``lpot.utils.pytorch.load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lpot.experimental import benchmark, quantization
from lpot.experimental.common import DataLoader, Metric, Postprocess
from lpot.experimental.component import Component


def _method_or_attribute(kind: type, attribute: str) -> property:
    """``obj.metric("name", cls, **kwargs)`` (the 1.1-1.6 method) and ``obj.metric = common.Metric(...)``
    (the 1.2 attribute) both set the component's metric (or postprocess), with its checks."""
    base: property = getattr(Component, attribute)

    def get(self: Any) -> Any:
        def register(name: str, cls: Any, **kwargs: Any) -> None:
            base.fset(self, kind(cls, name, **kwargs))  # type: ignore[misc]

        return register

    def put(self: Any, value: Any) -> None:
        base.fset(self, value)  # type: ignore[misc]

    return property(get, put)


class _LegacyMethods:
    """``dataloader(dataset, ...)``, ``metric(name, cls)``, ``postprocess(name, cls)`` of 1.x's top level."""

    def dataloader(
        self,
        dataset: Any,
        batch_size: int = 1,
        collate_fn: Any = None,
        last_batch: str = "rollover",
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle: bool = False,
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size,
            collate_fn,
            last_batch,
            sampler,
            batch_sampler,
            num_workers,
            pin_memory,
            shuffle,
        )


class Quantization(_LegacyMethods, quantization.Quantization):
    metric = _method_or_attribute(Metric, "metric")
    postprocess = _method_or_attribute(Postprocess, "postprocess")

    def __call__(  # type: ignore[override]
        self,
        model: Any = None,
        q_dataloader: Any = None,
        q_func: Any = None,
        eval_dataloader: Any = None,
        eval_func: Any = None,
    ) -> Any:
        """With ``model``: tune it and return the tuned native model (1.0-1.6). Without: the 1.2
        attribute form, returning a :class:`common.Model` as ``lpot.experimental`` does."""
        if model is None:
            return self.fit()
        self.model = model
        for name, value in (
            ("calib_dataloader", q_dataloader),
            ("q_func", q_func),
            ("eval_dataloader", eval_dataloader),
            ("eval_func", eval_func),
        ):
            if value is not None:
                setattr(self, name, value)
        tuned = self.fit()
        if tuned.framework == "pytorch":
            tuned.save(Path(self.cfg.tuning.workspace.path) / "checkpoint")
        return tuned.model


class Benchmark(_LegacyMethods, benchmark.Benchmark):
    metric = _method_or_attribute(Metric, "metric")
    postprocess = _method_or_attribute(Postprocess, "postprocess")

    def __call__(self, model: Any = None, b_dataloader: Any = None, b_func: Any = None) -> Any:  # type: ignore[override]
        """Every mode the config's ``evaluation`` has (performance when none), as 1.0-1.2 did:
        ``{mode: (accuracy, batch_size, latency list)}``."""
        if model is not None:
            self.model = model
        if b_dataloader is not None:
            self.b_dataloader = b_dataloader
        if b_func is not None:
            self.b_func = b_func
        for mode in self.configured_modes() or ["performance"]:
            self.fit(mode)
        return dict(self.results)
