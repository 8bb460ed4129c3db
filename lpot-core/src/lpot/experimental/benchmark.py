"""``Benchmark``: LPOT 1.x's accuracy and performance measurement of one model.

    evaluator = Benchmark("conf.yaml")
    evaluator.model = common.Model(model)         # or the q_model a Quantization returned
    results = evaluator("performance")            # {"performance": (accuracy, batch_size, latencies)}

``performance`` runs ``lpot.benchmark`` with the config's ``evaluation.performance`` settings
(warmup, iteration, instances pinned to their cores); its latency list holds each instance's
median batch latency in seconds (lpot times many iterations and keeps robust medians), and the
accuracy is None. ``accuracy`` evaluates the metric over the accuracy data; its latency list is
each batch's inference time in seconds. With ``b_func`` set, ``b_func(model)`` is the accuracy and
its whole run the one latency. Either way the 1.x summary is printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from lpot.errors import ConfigError, DataError
from lpot.experimental.component import Component, _function, _inference, _loader

MODES = ("performance", "accuracy")
Result = tuple[Any, int, list[float]]


class Benchmark(Component):
    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        self._b_dataloader: Iterable[Any] | None = None
        self._b_func: Callable[[Any], Any] | None = None
        self._results: dict[str, Result] = {}

    @property
    def b_dataloader(self) -> Iterable[Any] | None:
        return self._b_dataloader

    @b_dataloader.setter
    def b_dataloader(self, dataloader: Iterable[Any] | None) -> None:
        self._b_dataloader = _loader(dataloader, "b_dataloader")

    @property
    def b_func(self) -> Callable[[Any], Any] | None:
        return self._b_func

    @b_func.setter
    def b_func(self, func: Callable[[Any], Any] | None) -> None:
        self._b_func = _function(func, "b_func")

    @property
    def results(self) -> dict[str, Result]:
        """``{mode: (accuracy, batch_size, latency list in seconds)}`` of every mode run so far."""
        return self._results

    def __call__(self, mode: str = "performance") -> dict[str, Result]:
        return self.fit(mode)

    def fit(self, mode: str = "performance") -> dict[str, Result]:
        mode = self._mode(mode)
        if self._b_func is not None:
            result = self._timed_b_func()
        elif mode == "performance":
            result = self._performance()
        else:
            result = self._accuracy()
        self._results[mode] = result
        print_summary(mode, *result)
        return {mode: result}

    def configured_modes(self) -> list[str]:
        """The ``evaluation`` sections of the config, in 1.x's order."""
        return [m for m in MODES if getattr(self.cfg.evaluation, m) is not None]

    def _mode(self, mode: str) -> str:
        if mode not in MODES:
            raise ConfigError(f"Benchmark mode must be 'performance' or 'accuracy', got {mode!r}")
        configured = self.configured_modes()
        if configured and mode not in configured and self._b_dataloader is None and self._b_func is None:
            return configured[0]  # as 1.x: the first evaluation section the config has
        return mode

    def _data(self, section: str) -> Iterable[Any]:
        from lpot.experimental._evaluation import config_loader

        loader = self._b_dataloader if self._b_dataloader is not None else config_loader(self.cfg, section)
        if loader is None:
            raise DataError(
                f"nothing to benchmark on: set evaluator.b_dataloader or evaluation.{section}.dataloader"
            )
        return loader

    def _performance(self) -> Result:
        import lpot

        model = self._require_model()
        comparison = lpot.benchmark(model.root, self._data("performance"), self.cfg, progress=False)
        measured = comparison.results["model"]
        medians = measured.per_instance or (measured.latency_ms,)
        return None, measured.batch_size, [m / 1000.0 for m in medians]

    def _accuracy(self) -> Result:
        from lpot.data import batch_size_of, split_batch
        from lpot.experimental._evaluation import evaluation_metric
        from lpot.tuning.evaluation import _finite

        model = self._require_model()
        metric = evaluation_metric(self.cfg, self._metric, self._postprocess)
        if metric is None:
            raise ConfigError(
                "accuracy mode needs a metric: evaluation.accuracy.metric in the config, or "
                "evaluator.metric = common.Metric(...)"
            )
        backend, times, sizes = model.backend, [], []
        native, output = _inference(model.model), self.cfg.model.scored_output
        metric.reset()
        for batch in self._data("accuracy"):  # 1.x's accuracy mode: the metric, and each batch timed
            inputs, labels = split_batch(batch)
            start = time.perf_counter()
            outputs = backend.predict(native, inputs, output)
            times.append(time.perf_counter() - start)
            sizes.append(batch_size_of(inputs))
            metric.update(outputs, labels)
        accuracy = _finite(metric.result(), f"metric {type(metric).__name__}")
        return accuracy, (sizes[0] if sizes else 0), times

    def _timed_b_func(self) -> Result:
        b_func, native = self._b_func, self._require_model().model
        start = time.perf_counter()
        accuracy = b_func(native)  # type: ignore[misc]
        elapsed = time.perf_counter() - start
        return accuracy, int(getattr(self._b_dataloader, "batch_size", 1) or 1), [elapsed]

    def __repr__(self) -> str:
        return "Benchmark"


def print_summary(mode: str, accuracy: Any, batch_size: int, latencies: list[float]) -> None:
    """LPOT 1.x's summary: accuracy, or latency per sample and throughput."""
    print(f"\n{mode} mode benchmark result:")
    print(f"Batch size = {batch_size}")
    if mode == "accuracy":
        print(
            f"Accuracy is {accuracy:.4f}" if isinstance(accuracy, (int, float)) else f"Accuracy is {accuracy}"
        )
        return
    latency = sum(latencies) / len(latencies) / max(batch_size, 1)
    print(f"Latency: {latency * 1000:.3f} ms")
    print(f"Throughput: {1.0 / latency:.3f} images/sec")
