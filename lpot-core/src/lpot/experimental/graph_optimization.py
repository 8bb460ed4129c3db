"""``Graph_Optimization`` / ``GraphOptimization`` and ``MixedPrecision``: LPOT 1.x's FP32/BF16 graph
rewrites, to be run by ``lpot.optimize`` (graph optimization and BF16 conversion).

    optimizer = Graph_Optimization()          # or MixedPrecision(); a YAML path is optional
    optimizer.precisions = "bf16, fp32"       # MixedPrecision: "bf16"
    optimizer.input, optimizer.output = ["x"], ["logits"]
    optimizer.model = common.Model(model)
    optimized = optimizer()

The attributes are collected into one :class:`OptimizeRequest`; :func:`run_optimize` is the one
place that hands it to :func:`lpot.optimize`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from lpot.experimental.common import Model
from lpot.experimental.component import Component

log = logging.getLogger("lpot")


@dataclass(frozen=True)
class OptimizeRequest:
    """What a 1.x graph-optimization script asked for, as ``lpot.optimize`` will take it."""

    model: Model
    precisions: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    config: Any = None
    eval_func: Any = None
    eval_dataloader: Any = None


def run_optimize(request: OptimizeRequest, component: str) -> Model:
    """Hand ``request`` to :func:`lpot.optimize`; the 1.x ``Model`` wrapper comes back."""
    from lpot.optimization import optimize

    if request.inputs or request.outputs:
        log.info("%s: input/output names are read from the model itself", component)
    result = optimize(
        request.model.root,
        request.precisions,
        config=request.config,
        eval_func=request.eval_func,
        eval_dataloader=request.eval_dataloader,
    )
    return Model.produced(result.model, request.model.backend)


def parse_precisions(value: Any, what: str) -> tuple[str, ...]:
    from lpot.optimization import parse_precisions as parse

    return parse(value, f"{what}.precisions")


class Graph_Optimization(Component):  # noqa: N801 (LPOT 1.x's name)
    default_precisions: tuple[str, ...] = ("fp32",)
    section = "graph_optimization"  # the YAML section that may name the precisions

    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        from lpot.optimization import configured_precisions

        given = configured_precisions(self.cfg, self.section)
        self._precisions = parse_precisions(given, self.section) if given else self.default_precisions
        self._input: list[str] = list(self.cfg.model.inputs)
        self._output: list[str] = list(self.cfg.model.outputs)

    @property
    def precisions(self) -> tuple[str, ...]:
        return self._precisions

    @precisions.setter
    def precisions(self, value: Any) -> None:
        self._precisions = parse_precisions(value, repr(self))

    @property
    def input(self) -> list[str]:
        return self._input

    @input.setter
    def input(self, names: Any) -> None:
        self._input = [names] if isinstance(names, str) else list(names)

    @property
    def output(self) -> list[str]:
        return self._output

    @output.setter
    def output(self, names: Any) -> None:
        self._output = [names] if isinstance(names, str) else list(names)

    def request(self) -> OptimizeRequest:
        return OptimizeRequest(
            model=self._require_model(),
            precisions=self._precisions,
            inputs=tuple(self._input),
            outputs=tuple(self._output),
            config=self.cfg,
            eval_func=self._eval_func,
            eval_dataloader=self._eval_dataloader,
        )

    def fit(self) -> Model:
        return run_optimize(self.request(), repr(self))

    def __repr__(self) -> str:
        return "Graph_Optimization"


class GraphOptimization(Graph_Optimization):
    """The later 1.x spelling of :class:`Graph_Optimization`."""

    def __repr__(self) -> str:
        return "GraphOptimization"


class MixedPrecision(Graph_Optimization):
    """FP32 -> BF16 where the model allows (``precisions = "bf16"``)."""

    default_precisions = ("bf16",)
    section = "mixed_precision"

    def __repr__(self) -> str:
        return "MixedPrecision"
