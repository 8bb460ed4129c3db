"""The ``lpot`` command: tune, benchmark, report, demo, plugins.

User errors print one precise line and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lpot.errors import ConfigError, DataError, LpotError

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: the flags may come before or after the subcommand without one resetting the other
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bar")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p = argparse.ArgumentParser(
        prog="lpot", description="Accuracy-driven low-precision tuning.", parents=[common]
    )
    p.add_argument("--version", action=_Version, nargs=0, help="lpot-core's and each backend's version")
    sub = p.add_subparsers(dest="command", required=True)

    _add_tune(sub, common)

    b = sub.add_parser("benchmark", parents=[common], help="latency and throughput of a model")
    b.add_argument("config", nargs="?", help="YAML config (evaluation.performance is used)")
    b.add_argument("--model", required=True, help="the model (the FP32 one when --tuned is given)")
    b.add_argument("--tuned", help="a tuned model to measure side by side with --model")
    b.add_argument("--data", help=".npz with array 'x' (default: the config's performance dataloader)")
    b.add_argument("--batch-size", type=int, default=1)
    b.add_argument("--cores-per-instance", type=int)
    b.add_argument("--num-instances", type=int)
    b.add_argument("--iterations", type=int)
    b.add_argument(
        "--format", choices=("table", "json"), default="table", help="json: one object, for machines"
    )

    _add_optimize(sub, common)

    r = sub.add_parser(
        "report", parents=[common], help="report of a workspace: HTML (default), md, json, text"
    )
    r.add_argument("workspace")
    r.add_argument("--format", choices=("html", "md", "json", "text"), default="html")
    r.add_argument("--output", help="file to write (default: WORKSPACE/report.<format>; text goes to stdout)")
    r.add_argument(
        "--inline",
        action="store_true",
        help="HTML: put plotly.js (4.7 MB) inside the report instead of one shared copy beside it",
    )

    d = sub.add_parser("demo", parents=[common], help="tune the embedded default model on real data")
    d.add_argument("--name", help="which demo (default: the first installed)")
    d.add_argument("--workspace", default="lpot_demo_workspace")
    d.add_argument(
        "--rebuild", action="store_true", help="build the demo model from scratch instead of the shipped copy"
    )

    sub.add_parser(
        "plugins", parents=[common], help="list installed backends, strategies, metrics, objectives"
    )

    u = sub.add_parser("ui", parents=[common], help="local web app: start, watch, compare, diagnose runs")
    u.add_argument(
        "folders", nargs="*", default=["."], help="folders of workspaces (new runs go in the first)"
    )
    u.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    u.add_argument("--port", type=int, default=8765, help="port (0: any free one)")
    u.add_argument("--no-browser", action="store_true", help="do not open a browser")
    u.add_argument("--max-upload-mb", type=float, default=1024, help="size limit of model and data uploads")
    return p


def _add_tune(sub: Any, common: argparse.ArgumentParser) -> None:
    t = sub.add_parser("tune", parents=[common], help="tune a model until it meets the accuracy goal")
    t.add_argument(
        "config", nargs="?", help="YAML config (LPOT 1.x layout); optional: the flags cover the common knobs"
    )
    t.add_argument("--model", required=True, help="model file, e.g. model.onnx")
    t.add_argument(
        "--data",
        help=".npz with inputs 'x' (or one array per model input, by name) and labels 'y' "
        "(default: the config's dataloaders)",
    )
    t.add_argument("--calib-data", help=".npz used for calibration only (overrides --data)")
    t.add_argument("--eval-data", help=".npz used for evaluation only (overrides --data)")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument(
        "--workspace", help="workspace folder (overrides tuning.workspace.path; default ./lpot_workspace)"
    )
    t.add_argument("--resume", action="store_true", help="continue the interrupted run in the workspace")
    t.add_argument("--output", help="also save the tuned model and its recipe here")
    t.add_argument(
        "--executor",
        choices=("serial", "local", "ray"),
        help="where trials run (overrides tuning.executor.name): serial, local worker processes, or Ray",
    )
    t.add_argument(
        "--workers",
        type=int,
        help="trials at once on a local or ray executor (overrides tuning.executor.workers)",
    )
    from lpot.cli_options import add_tune_flags

    add_tune_flags(t)


def _add_optimize(sub: Any, common: argparse.ArgumentParser) -> None:
    o = sub.add_parser(
        "optimize", parents=[common], help="FP32 graph optimization (or BF16 where native), no quantization"
    )
    o.add_argument("config", nargs="?", help="YAML config (graph_optimization.precisions, evaluation)")
    o.add_argument("--model", required=True)
    o.add_argument("--precisions", help="fp32 (default), or bf16,fp32 for auto-mixed BF16")
    o.add_argument("--data", help=".npz with array 'x' (or one per input): speed, and accuracy if configured")
    o.add_argument("--batch-size", type=int, default=1)
    o.add_argument("--output", default="lpot_optimized", help="folder for the model and summary.json")


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (SIGINT): the commit in flight completes or rolls back."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_on(signum: int, _frame: Any) -> None:
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    args = _parser().parse_args(argv)
    args.quiet = getattr(args, "quiet", False)
    args.debug = getattr(args, "debug", False)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.ERROR if args.quiet else logging.WARNING),
        format="lpot: %(levelname)s: %(message)s",
    )
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on)
    try:
        return _COMMANDS[args.command](args)
    except LpotError as exc:
        if args.debug:
            raise
        print(f"lpot: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # `lpot plugins | head`: the reader left, nothing is wrong
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no flush error at exit
        return 0
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        name = signal.Signals(signum).name
        hint = "continue with --resume" if args.command == "tune" else "nothing was saved"
        print(f"lpot: stopped by {name}; finished trials are saved in the history, {hint}", file=sys.stderr)
        return 128 + int(signum)


def _npz(path: str | None, batch_size: int) -> Any:
    if path is None:
        return None
    import numpy as np

    from lpot.data import ArrayLoader

    file = Path(path)
    if not file.exists():
        raise DataError(f"data file {path!r} does not exist")
    try:
        with np.load(file, allow_pickle=False) as data:  # never unpickle a user's file
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: not a readable .npz of plain arrays ({exc})") from exc
    y = arrays.pop("y", None)
    if "x" in arrays:
        x: Any = arrays["x"]
    elif arrays:  # a multi-input model: one array per input, named as the model names them
        x = arrays
    else:
        raise DataError(f"{path}: expected inputs 'x' (or one array per model input) and labels 'y'")
    return ArrayLoader(x, y, batch_size=batch_size)


class _Version(argparse.Action):
    """``--version`` printed as written (argparse's own action rewraps the lines)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(_versions())
        parser.exit()


def _versions() -> str:
    """``lpot --version``: lpot-core's version, then every installed backend's package and version."""
    from importlib import metadata

    from lpot import __version__, plugins

    lines = [f"lpot-core {__version__}"]
    for name, info in sorted(plugins.available("lpot.backends").items()):
        try:
            version = metadata.version(info.distribution) if info.distribution else "?"
        except metadata.PackageNotFoundError:
            version = "?"
        lines.append(f"  backend {name}: {info.distribution or '?'} {version}")
    return "\n".join(lines)


def _tune_config(args: argparse.Namespace) -> Any:
    """The config file (or the defaults) with the command's flags written in, checked as one."""
    from lpot.cli_options import apply_flags, flag_of
    from lpot.config import load_config
    from lpot.config.loader import parse_config

    base = load_config(args.config)
    try:
        cfg = parse_config(apply_flags(base.to_dict(), args), source=base.source)
    except ConfigError as exc:
        raise ConfigError(flag_of(str(exc))) from None
    return with_executor(cfg, args.executor, args.workers)


def _tune(args: argparse.Namespace) -> int:
    from lpot.api import tune

    cfg = _tune_config(args)
    calib = _npz(args.calib_data or args.data, args.batch_size)
    evals = _npz(args.eval_data or args.data, args.batch_size)
    try:
        result = tune(
            args.model,
            q_dataloader=calib,
            eval_dataloader=evals,
            config=cfg,
            resume=args.resume,
            progress=not args.quiet,
        )
    except ConfigError as exc:
        raise ConfigError(_evaluation_in_flags(str(exc))) from None
    from lpot.report.text import result_summary

    print(result_summary(result, traceback=args.debug))
    if args.output:
        output = _output_folder(args.output, args.model)
        print(f"saved: {result.save(output)}")
    return 0


def _evaluation_in_flags(message: str) -> str:
    """The API's "pass eval_func or an eval_dataloader" said in the command's own terms."""
    if not message.startswith("nothing to evaluate with"):
        return message
    if "evaluation.accuracy.metric" in message.split(" is missing")[0]:
        return (
            "nothing to evaluate the tuned model with: the config names no evaluation.accuracy.metric; "
            "give --metric (e.g. --metric topk), or declare evaluation.accuracy.metric in the config"
        )
    return (
        "nothing to evaluate the tuned model with: give --data (or --eval-data), or declare "
        "evaluation.accuracy.dataloader in the config"
    )


def _output_folder(output: str, model: str) -> Path:
    """``--output``: a new, empty or lpot-written folder that does not hold the input model."""
    folder, source = Path(output).resolve(), Path(model).resolve()
    if source == folder or folder in source.parents:
        raise ConfigError(
            f"--output {output} holds the input model {model}: saving there would replace it; choose another folder"
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--output {output} is a file, not a folder")
    written = (folder / "recipe.json").exists() or (folder / "summary.json").exists()
    if folder.is_dir() and any(folder.iterdir()) and not written:
        raise ConfigError(
            f"--output {output} already holds files lpot did not write; choose a new or empty folder"
        )
    return folder


def with_executor(cfg: Any, name: str | None, workers: int | None) -> Any:
    """``cfg`` with ``--executor`` / ``--workers`` applied (``--workers 2`` alone means local)."""
    if name is None and workers is None:
        return cfg
    from lpot.config.tuning import ExecutorConfig

    current = cfg.tuning.executor
    if name is None:
        name = current.name if current.name != "serial" or workers == 1 else "local"
    fields = {**current.__dict__, "name": name}
    if workers is not None:
        fields["workers"] = workers
    if name != current.name and name != "ray":
        fields["address"] = None
    if name == "serial" and workers is None:
        fields["workers"] = None
    try:
        executor = ExecutorConfig(**fields)
    except ConfigError as exc:
        raise ConfigError(f"--executor/--workers: {exc}") from None
    return replace(cfg, tuning=replace(cfg.tuning, executor=executor))


def _benchmark(args: argparse.Namespace) -> int:
    from lpot.benchmarking import FLAG_KNOBS, benchmark

    for flag, value in (
        ("--iterations", args.iterations),
        ("--cores-per-instance", args.cores_per_instance),
        ("--num-instances", args.num_instances),
        ("--batch-size", args.batch_size),
    ):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value}: expected an integer >= 1")

    try:
        comparison = benchmark(
            args.model,
            _npz(args.data, args.batch_size) if args.data else None,
            args.config,
            tuned=args.tuned,
            cores_per_instance=args.cores_per_instance,
            num_instances=args.num_instances,
            iterations=args.iterations,
            progress=not args.quiet,
            knobs=FLAG_KNOBS,  # too many instances is said in flag names
        )
    except DataError as exc:
        if str(exc).startswith("nothing to benchmark on"):
            raise DataError(
                "nothing to benchmark on: give --data (an .npz with array 'x'), or declare "
                "evaluation.performance.dataloader in the config"
            ) from None
        raise
    print(json.dumps(comparison.to_dict()) if args.format == "json" else comparison.table())
    return 0


def _optimize(args: argparse.Namespace) -> int:
    from lpot.config import load_config
    from lpot.optimization import optimize

    cfg = load_config(args.config)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected an integer >= 1")
    data = _npz(args.data, args.batch_size) if args.data else None
    result = optimize(
        args.model,
        args.precisions or _configured_precisions(cfg),
        config=cfg,
        eval_dataloader=data if cfg.evaluation.accuracy is not None else None,
        bench_dataloader=data,
        output=_output_folder(args.output, args.model),
    )
    print(result.summary())
    return 0


def _configured_precisions(cfg: Any) -> Any:
    """LPOT 1.x's ``graph_optimization.precisions`` or ``mixed_precision.precisions``, else fp32."""
    from lpot.optimization import configured_precisions

    for section in ("graph_optimization", "mixed_precision"):
        given = configured_precisions(cfg, section)
        if given:
            return given
    return "fp32"


def _report(args: argparse.Namespace) -> int:
    from lpot.report import write_report

    if args.inline and args.format != "html":
        raise ConfigError(f"--inline: only the HTML report has scripts to inline, not --format {args.format}")
    written = write_report(args.workspace, args.format, args.output, inline=args.inline)
    if written is None:
        from lpot.report import workspace_report

        print(workspace_report(args.workspace))
    elif args.format == "html" and not args.inline:
        print(f"report written to {written} (its charts load the plotly.js copy beside it)")
    else:
        print(f"report written to {written}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lpot.demo import run_demo, silent

    def say(line: str) -> None:
        print(line, flush=True)  # each stage as it starts, also when stdout is a pipe or a file

    report = run_demo(
        args.name,
        workspace=args.workspace,
        progress=not args.quiet,
        rebuild=args.rebuild,
        say=silent if args.quiet else say,
    )
    print(report)
    return 0


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _plugins(args: argparse.Namespace) -> int:
    from lpot import plugins
    from lpot.report.text import table

    for group in plugins.GROUPS:
        found = plugins.describe(group)
        rows = [
            [name, plugins.available(group)[name].distribution or "?", _short(status, 70)]
            for name, status in found.items()
        ]
        print(f"{group} ({len(rows)}):")
        print(
            table(["  name", "package", "status"], [["  " + r[0], *r[1:]] for r in rows])
            if rows
            else "  none"
        )
        print()
    return 0


def _ui(args: argparse.Namespace) -> int:
    from lpot.ui import main as ui_main

    return ui_main(
        args.folders,
        host=args.host,
        port=args.port,
        open_browser=not args.no_browser,
        max_upload_mb=args.max_upload_mb,
    )


_COMMANDS = {
    "tune": _tune,
    "benchmark": _benchmark,
    "optimize": _optimize,
    "report": _report,
    "demo": _demo,
    "plugins": _plugins,
    "ui": _ui,
}

if __name__ == "__main__":
    sys.exit(main())
