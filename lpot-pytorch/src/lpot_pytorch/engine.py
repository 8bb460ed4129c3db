"""``PyTorchEngine``: the lpot engine contract over torch.fx quantization passes on the x86 engine,
and over torch.export + pt2e (``lpot_pytorch.pt2e``) for static INT8 of models torch.fx cannot trace.

Thin on purpose: tracing, capability, calibration, quantizer, pt2e, inspection and serialization
each live in their own module; this class wires them to the contract. Evaluation, benchmarking,
fingerprints and artifacts are lpot-core's (:class:`lpot.backend.Backend`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lpot.engine import CalibrationSpec, Feature, QuantizeContext, Stats
from lpot.errors import ConfigError, ModelError
from lpot.recipe import Approach, Capability, OpKey, Recipe


class PyTorchEngine:
    """INT8 (static, dynamic, QAT) and BF16 for ``torch.nn.Module`` models on CPU.

    ``leaf_modules``: qualified names of submodules torch.fx must not trace into (data-dependent
    control flow); they stay FP32.

    ``lowering`` (static INT8): ``"fx"`` (legacy torch.fx, eager INT8 modules), ``"pt2e"``
    (torch.export + torchao's X86InductorQuantizer, lowered to oneDNN INT8 ops), or ``"auto"``: FX
    where the model traces, pt2e where it does not (FX measured as fast or faster on the zoo's
    CNNs, with no export per trial; see the README). Where FX fails inside a submodule, pt2e
    quantizes that submodule too, which ``leaf_modules`` would keep FP32.

    ``inductor``: the pt2e model a run returns is compiled by inductor (:meth:`finalize`, about
    half a minute once; 1.6x the eager-lowered graph's speed on MiniLM); False returns it eager.
    """

    LOWERINGS = ("auto", "fx", "pt2e")

    name = "pytorch"
    aliases = {
        "pytorch_fx": {},
        "pytorch_ipex": {
            "unavailable": "Intel Extension for PyTorch (IPEX) is not supported by lpot; use framework: "
            "pytorch (torch.fx INT8 on the x86 engine, run with plain PyTorch)"
        },
    }
    features = frozenset({Feature.INSPECT, Feature.OP_WEIGHTS, Feature.QAT, Feature.BF16, Feature.FINALIZE})

    def __init__(
        self, leaf_modules: Sequence[str] = (), lowering: str = "auto", inductor: bool = True
    ) -> None:
        if lowering not in self.LOWERINGS:
            raise ConfigError(
                f"PyTorchBackend(lowering={lowering!r}): use one of {', '.join(self.LOWERINGS)}"
            )
        self.leaf_modules = tuple(leaf_modules)
        self.lowering = lowering
        self.inductor = inductor
        self._lowerings: dict[int, tuple[Any, str]] = {}  # id(model): (model, "fx" | "pt2e")
        self._exports: dict[int, tuple[Any, Any]] = {}  # id(model): (model, its torch.export program)
        self._fx_failure = ""  # why auto left torch.fx, said again if torch.export fails too
        self._example: Any = None  # one input batch seen, for tracing when scripting fails
        self._default_threads: int | None = None
        self._comparable: tuple[Any, Any] | None = None  # (model, its fused twin for inspection)
        # INT8 results save as weights + recipe; what this engine quantized (and then saved) it can
        # rebuild on read: {id(quantized): (quantized, fp32 model, recipe)}, {folder: (fp32, recipe)}
        self._made: dict[int, tuple[Any, Any, Recipe]] = {}
        self._saved: dict[Path, tuple[Any, Recipe]] = {}

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        torch = sys.modules.get("torch")  # a torch model means torch is imported: never import it here
        return torch is not None and isinstance(model, torch.nn.Module)

    def load(self, model: object) -> Any:
        import copy

        import torch

        if isinstance(model, (str, Path)):
            raise ModelError(
                f"{model}: lpot-pytorch tunes a torch.nn.Module object; load your model in Python and "
                "pass it to lpot.tune (paths are not unpickled)"
            )
        if not isinstance(model, torch.nn.Module):
            raise ModelError(f"expected a torch.nn.Module, got {type(model).__name__}")
        return copy.deepcopy(model).eval()

    def capability(self, model: Any, approach: str, objective: str) -> Capability:
        from lpot_pytorch.capability import build_capability, pt2e_capability
        from lpot_pytorch.tracing import check_traceable

        if approach == Approach.QAT and self.lowering == "pt2e":
            raise ConfigError("quant_aware_training goes through torch.fx: use PyTorchBackend(lowering='fx')")
        if approach == Approach.STATIC and self.lowering_of(model) == "pt2e":
            return pt2e_capability(model, self.leaf_modules)
        if approach != Approach.DYNAMIC:  # static and QAT need a graph: fail now, naming the module
            check_traceable(model, self.leaf_modules)
        return build_capability(model, approach, self.leaf_modules)

    def lowering_of(self, model: Any) -> str:
        """``"fx"`` or ``"pt2e"`` for this model's static INT8 (``auto``: pt2e where torch.fx cannot
        trace it; the FX error, with its leaf_modules advice, is said again if torch.export fails too)."""
        known = self._lowerings.get(id(model))
        if known is not None and known[0] is model:
            return known[1]
        choice = self.lowering
        if choice == "auto":
            from lpot_pytorch.tracing import UntraceableError, check_traceable

            try:
                check_traceable(model, self.leaf_modules)
                choice = "fx"
            except UntraceableError as exc:  # a leaf would keep that module FP32; pt2e quantizes it
                from lpot_pytorch import pt2e

                try:
                    pt2e.torchao()
                except ModelError as missing:
                    raise ModelError(f"{exc}. {missing}") from exc
                self._fx_failure = str(exc)
                choice = "pt2e"
        self._lowerings[id(model)] = (model, choice)
        return choice

    def _exported(self, model: Any, inputs: dict[str, Any]) -> Any:
        """The model's torch.export program, exported once per model (on ``inputs``' shapes)."""
        from lpot_pytorch import pt2e

        known = self._exports.get(id(model))
        if known is None or known[0] is not model:
            try:
                exported = pt2e.export(model, inputs)
            except ModelError as exc:  # say first why FX was not used, and its advice
                raise ModelError(f"{self._fx_failure}. {exc}" if self._fx_failure else str(exc)) from exc
            self._exports = {id(model): (model, exported)}  # the last model only
        return self._exports[id(model)][1]

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
        from lpot_pytorch.calibration import calibrate, calibrate_pt2e

        if self.lowering_of(model) != "pt2e":
            return calibrate(model, self._remember(batches), spec, self.leaf_modules)
        from lpot_pytorch import pt2e
        from lpot_pytorch.capability import pt2e_capability

        seen = list(self._remember(batches))
        inputs = pt2e.input_spec(seen[0]) if seen else {}
        exported = self._exported(model, inputs) if seen else None
        ops = [key.name for key in pt2e_capability(model, self.leaf_modules).opwise]
        return calibrate_pt2e(exported, inputs, ops, seen, spec)

    def quantize(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> Any:
        from lpot_pytorch.quantizer import quantize

        if (
            recipe.approach == Approach.STATIC
            and recipe.quantized_ops()
            and self.lowering_of(model) == "pt2e"
        ):
            quantized = self._quantize_pt2e(model, recipe, ranges, context)
        else:
            quantized = quantize(model, recipe, ranges, q_func=context.train, leaf_modules=self.leaf_modules)
        if len(self._made) >= 4:  # the last few only: each holds an INT8 model alive
            self._made.pop(next(iter(self._made)))
        self._made[id(quantized)] = (quantized, model, recipe)
        return quantized

    def _quantize_pt2e(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> Any:
        """The recipe built by pt2e; the exported inputs come from the calibration artifact, so a
        resumed run whose statistics were cached exports the same graph without data."""
        import json

        from lpot_pytorch import pt2e

        if pt2e.INPUTS_ARTIFACT in context.artifacts:
            inputs = json.loads(context.artifacts[pt2e.INPUTS_ARTIFACT])
        elif self._example is not None:
            inputs = pt2e.input_spec(self._example)
        else:
            raise ModelError("pt2e needs the calibration statistics of this engine (they name the inputs)")
        exported = self._exported(model, inputs)
        return pt2e.build(exported, pt2e.record(recipe, self.leaf_modules, ranges, inputs))

    def finalize(self, model: Any) -> Any:
        """The chosen pt2e model compiled by inductor (:mod:`lpot_pytorch.compiled`), rebuilt from
        its record on the FP32 model's export; any other model as it is."""
        from lpot_pytorch import pt2e

        made, source = pt2e.made_by_pt2e(model), self._made.get(id(model))
        if (
            not self.inductor
            or made is None
            or made.get("compiled")
            or source is None
            or source[0] is not model
        ):
            return model
        compiled = pt2e.build(self._exported(source[1], made["inputs"]), made, made["state"], compiled=True)
        self._made[id(compiled)] = (compiled, source[1], source[2])
        return compiled

    # running ------------------------------------------------------------------------------
    def _remember(self, batches: Iterable[Any]) -> Iterable[Any]:
        for inputs in batches:
            if self._example is None:
                from lpot_pytorch.tensors import to_torch

                self._example = to_torch(inputs)
            yield inputs

    def predict(self, model: Any, inputs: Any) -> dict[str, Any]:
        from lpot_pytorch.tensors import predict, to_torch

        if self._example is None:
            self._example = to_torch(inputs)
        return predict(model, inputs)

    def inspect(self, model: Any, inputs: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        from lpot_pytorch.inspection import comparable, inspect

        if self._comparable is None or self._comparable[0] is not model:
            self._comparable = (model, comparable(model))  # fusing once per model, not per batch
        return inspect(self._comparable[1], inputs, ops)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        """Weights as each op computes with them (for TensorBoard)."""
        from lpot_pytorch.inspection import op_weights

        return op_weights(model, ops)

    def set_threads(self, threads: int | None) -> None:
        import torch

        if self._default_threads is None:
            self._default_threads = torch.get_num_threads()
        torch.set_num_threads(threads or self._default_threads)

    def runner(self, model: Any) -> Callable[[Any], Callable[[], Any]]:
        import torch

        from lpot_pytorch.kernels import pack_for_speed
        from lpot_pytorch.tensors import call, to_torch

        pack_for_speed(model)  # a model copied, pickled or loaded was packed again by torch

        def prepare(inputs: Any) -> Callable[[], Any]:
            batch = to_torch(inputs)

            def run() -> Any:
                with torch.inference_mode():
                    return call(model, batch)

            return run

        return prepare

    # artifacts ----------------------------------------------------------------------------
    def serialize(self, model: Any) -> bytes:
        from lpot_pytorch.serialization import content_bytes

        return content_bytes(model)

    def save(self, model: Any, folder: Path) -> Path:
        from lpot_pytorch.serialization import save

        made = self._made.get(id(model))
        if made is not None and made[0] is model:
            self._saved[Path(folder).resolve()] = (made[1], made[2])
        return save(model, Path(folder), self._example)

    def read(self, path: Path) -> Any:
        """A saved program; an INT8 result this engine saved is rebuilt on its FP32 model (any other
        raises a ModelError saying how to rebuild it)."""
        from lpot_pytorch.serialization import PROGRAM_FILE, STATE_FILE, load, rebuild

        path = Path(path)
        folder = (path if path.is_dir() else path.parent).resolve()
        source = self._saved.get(folder)
        if source is not None and (folder / STATE_FILE).is_file() and not (folder / PROGRAM_FILE).is_file():
            return rebuild(source[0], source[1], folder)
        return load(path)
