"""The page's actions: check a config, create a run, upload its inputs, start / stop / resume it,
benchmark it, seed a run from a diagnosis. JSON in, JSON out; errors are ``{"error": message}``.

Every subprocess argument is built here from validated values (paths inside the run folder,
integers): nothing the page sends reaches a command line as text.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from lpot.benchmarking import available_cores
from lpot.errors import ConfigError
from lpot.ui.configs import RunOptions, check_yaml, keep_in_fp32, parent_config, to_yaml
from lpot.ui.diagnose import diagnose
from lpot.ui.newrun import DATA, MODEL, check_npz, create_run, create_seeded, default_name, upload_name
from lpot.ui.pages import run_id_param, ui_state
from lpot.ui.process import RunRecord, RunStateError, lpot_command
from lpot.ui.security import receive_upload
from lpot.ui.state import BadRequest
from lpot.ui.workspaces import tuned_model


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("expected a JSON object in the request body") from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object in the request body")
    return body


async def runs_json(request: Request) -> JSONResponse:
    state = ui_state(request)
    runs = await run_in_threadpool(state.runs)
    return JSONResponse(
        [
            {
                "id": r.id,
                "status": r.status,
                "detail": r.detail,
                "trials": r.trials,
                "best_trial": r.meta.get("best_trial"),
            }
            for r in runs
        ]
    )


async def preview_config(request: Request) -> JSONResponse:
    options = RunOptions.from_form(await _json(request))
    text = to_yaml(options.to_config())
    await run_in_threadpool(check_yaml, text)
    return JSONResponse({"yaml": text})


async def check_config(request: Request) -> JSONResponse:
    text = (await _json(request)).get("yaml")
    if not isinstance(text, str):
        raise BadRequest("expected {'yaml': '<config text>'}")
    config = await run_in_threadpool(check_yaml, text)
    tuning = config.tuning
    return JSONResponse({"ok": True, "summary": f"{tuning.strategy.name}, objective {tuning.objective}"})


async def create(request: Request) -> JSONResponse:
    state = ui_state(request)
    body = await _json(request)
    root = body.get("root", 0)
    if not isinstance(root, int) or not 0 <= root < len(state.roots.paths):
        raise BadRequest(f"root: expected the index of a served folder, got {root!r}")
    name = str(body.get("name") or default_name())
    text = body.get("yaml")
    if not isinstance(text, str):
        raise BadRequest("expected the run's config as 'yaml'")
    parent = body.get("parent")
    if parent is not None:
        state.run(str(parent))  # must be a run this UI serves
    folder = await run_in_threadpool(create_run, state.roots.paths[root], name, text, parent)
    return JSONResponse({"id": state.roots.run_id(folder)}, status_code=201)


async def upload(request: Request) -> JSONResponse:
    """``PUT /api/upload?id=&role=model|data&filename=``: the raw file as the body."""
    state = ui_state(request)
    run = state.run(run_id_param(request))
    role = request.query_params.get("role", "")
    name = upload_name(role, request.query_params.get("filename", ""))
    if run.record is None or run.record.pid is not None:
        raise RunStateError(f"run {run.name!r} has started: its inputs can no longer change")
    size = await receive_upload(request, run.path / name, state.max_upload)
    if role == DATA:
        try:
            await run_in_threadpool(check_npz, run.path / name)
        except Exception:
            (run.path / name).unlink(missing_ok=True)
            raise
    record = RunRecord.read(run.path) or RunRecord()
    setattr(record, MODEL if role == MODEL else DATA, name)
    record.write(run.path)
    return JSONResponse({"file": name, "bytes": size})


async def start(request: Request) -> JSONResponse:
    return await _launch(request, resume=False)


async def resume(request: Request) -> JSONResponse:
    return await _launch(request, resume=True)


async def _launch(request: Request, *, resume: bool) -> JSONResponse:
    state = ui_state(request)
    run = state.run(run_id_param(request))
    if not resume and run.record is not None and run.record.pid is not None:
        raise RunStateError(f"run {run.name!r} was started before: resume it instead")
    if resume and not run.resumable:
        raise RunStateError(f"run {run.name!r} is {run.status}: only a stopped or unfinished run resumes")
    record = await run_in_threadpool(lambda: state.launcher.start(run.path, resume=resume))
    return JSONResponse({"id": run.id, "pid": record.pid})


async def stop(request: Request) -> JSONResponse:
    state = ui_state(request)
    run = state.run(run_id_param(request))
    state.launcher.stop(run.path)
    return JSONResponse({"id": run.id, "stopping": True})


def _count(body: dict[str, Any], key: str, default: int, maximum: int) -> int:
    value = body.get(key, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ConfigError(f"benchmark {key}: expected a whole number from 1 to {maximum}, got {value!r}")
    return value


async def benchmark(request: Request) -> JSONResponse:
    """FP32 against the tuned model with ``lpot benchmark --tuned``, stored in ``ui-benchmarks.jsonl``."""
    state = ui_state(request)
    run = state.run(run_id_param(request))
    body = await _json(request)
    cores = available_cores()
    settings = {
        "num_instances": _count(body, "num_instances", 1, cores),
        "cores_per_instance": _count(body, "cores_per_instance", 1, cores),
        "batch_size": _count(body, "batch_size", 1, 65536),
        "iterations": _count(body, "iterations", 50, 100000),
    }
    tuned = tuned_model(run.path)
    record = run.record
    if run.running or tuned is None or record is None or record.model is None:
        raise RunStateError(
            f"run {run.name!r} cannot be benchmarked: it needs a finished tune started from lpot ui"
        )
    argv = lpot_command(
        "benchmark",
        str(run.path / record.config),
        "--model",
        str(run.path / record.model),
        "--tuned",
        str(tuned),
    )
    if record.data:
        argv += ["--data", str(run.path / record.data)]
    for key, value in settings.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    state.launcher.benchmark(run.path, [*argv, "--format", "json", "--quiet"], settings)
    return JSONResponse({"id": run.id, "benchmarking": True}, status_code=202)


async def seed(request: Request) -> JSONResponse:
    """ "Keep these ops in FP32": a new run whose config adds them to ``quantization.op_wise``."""
    state = ui_state(request)
    run = state.run(run_id_param(request))
    body = await _json(request)
    ops = body.get("ops")
    index = request.query_params.get("trial", "")
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops) or not index.isdigit():
        raise BadRequest("expected ?trial=<n> and {'ops': [op names]}")
    diagnosis = await run_in_threadpool(diagnose, run.path, int(index))
    known = {op.name for op in diagnosis.ops}
    unknown = sorted(set(ops) - known)
    if unknown:
        raise ConfigError(f"trial {index} of {run.name!r} has no op(s) {', '.join(map(repr, unknown))}")
    config = keep_in_fp32(parent_config(run.path, run.meta, run.record.config if run.record else None), ops)
    if run.record is None or run.record.model is None:
        return JSONResponse({"redirect": "/new?" + urlencode({"from": run.id, "fp32": ",".join(ops)})})
    root = run.path if run.path in state.roots.paths else run.path.parent
    folder = await run_in_threadpool(create_seeded, root, f"{run.path.name}-fp32", config, run.path, run.id)
    await run_in_threadpool(lambda: state.launcher.start(folder))
    return JSONResponse({"id": state.roots.run_id(folder)}, status_code=201)
