"""The rules of ``lpot ui`` over plain HTTP (Starlette's TestClient, no browser): the token, the
host check, paths that leave the served folders, upload limits, what a config from the page may
name, and that ``import lpot`` never loads any of it."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from starlette.testclient import TestClient

import lpot
from lpot.ui.app import create_app
from lpot.ui.process import RunRecord
from lpot.ui.security import cookie_name
from lpot.ui.server import LOOPBACK_NAMES
from onnx_mlp import mlp

TOKEN = "the-token"
LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """A folder with one workspace tuned by ``lpot.tune`` (not by the UI), a nested one, a hidden one."""
    import onnx

    root = tmp_path_factory.mktemp("served")
    model = mlp((16, 32, 4))
    onnx.save(model, root / "tiny.onnx")
    x = np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32)
    y = np.zeros(64, np.int64)
    config = {
        "evaluation": {"accuracy": {"metric": {"topk": 1}}},
        "tuning": {"exit_policy": {"max_trials": 2}, "workspace": {"path": str(root / "cli-run")}},
    }
    lpot.tune(
        str(root / "tiny.onnx"),
        lpot.ArrayLoader(x, y, 16),
        eval_dataloader=lpot.ArrayLoader(x, y, 16),
        config=config,
        progress=False,
    )
    (root / "group" / "nested").mkdir(parents=True)
    (root / "group" / "nested" / "history.sqlite").write_bytes(
        (root / "cli-run" / "history.sqlite").read_bytes()
    )
    (root / ".hidden").mkdir()
    (root / ".hidden" / "history.sqlite").write_bytes(b"")
    return root


@pytest.fixture
def client(served) -> TestClient:
    return TestClient(create_app([served], TOKEN, max_upload_bytes=LIMIT), headers={"X-Lpot-Token": TOKEN})


def anonymous(served, **kwargs) -> TestClient:
    return TestClient(create_app([served], TOKEN, **kwargs), follow_redirects=False)


def test_no_token_401_wrong_token_403(served):
    web = anonymous(served)
    for path in (
        "/",
        "/api/runs",
        "/static/ui.js",
        "/run?id=0/cli-run",
        "/download?id=0/cli-run&file=recipe.json",
    ):
        assert web.get(path).status_code == 401, path
        assert web.get(path, headers={"X-Lpot-Token": "nope"}).status_code == 403, path
        assert TestClient(web.app, cookies={cookie_name(TOKEN): "nope"}).get(path).status_code == 403, path
    assert web.post("/api/runs", json={}).status_code == 401
    assert web.get("/?token=" + TOKEN[:-1]).status_code == 403


def test_the_token_in_the_url_becomes_a_cookie(served):
    web = anonymous(served)
    first = web.get(f"/run?id=0/cli-run&token={TOKEN}")
    assert first.status_code == 303 and first.headers["location"] == "/run?id=0%2Fcli-run"
    cookie = first.headers["set-cookie"]
    assert f"{cookie_name(TOKEN)}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert web.get("/run?id=0/cli-run").status_code == 200  # the client kept the cookie
    bearer = anonymous(served).get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_other_host_names_are_refused_on_loopback(served):
    web = anonymous(served, allowed_hosts=LOOPBACK_NAMES)
    headers = {"X-Lpot-Token": TOKEN}
    assert web.get("/", headers={**headers, "Host": "attacker.example:8765"}).status_code == 400
    assert web.get("/", headers={**headers, "Host": "127.0.0.1:8765"}).status_code == 200


def test_workspaces_are_found_but_not_in_hidden_folders(client):
    runs = {r["id"]: r for r in client.get("/api/runs").json()}
    assert set(runs) == {"0/cli-run", "0/group/nested"}
    assert runs["0/cli-run"]["status"] in ("met", "budget_spent", "exhausted")
    assert runs["0/cli-run"]["trials"] >= 1


@pytest.mark.parametrize(
    "path",
    [
        "/download?id=0/cli-run&file=../history.sqlite",
        "/download?id=0/cli-run&file=../../tiny.onnx",
        "/download?id=0/cli-run&file=/etc/passwd",
        "/download?id=0/cli-run&file=leak",
        "/download?id=0/../../etc&file=passwd",
        "/download?id=0/cli-run/../..&file=x",
        "/download?id=1/cli-run&file=recipe.json",
        "/download?id=x/cli-run&file=recipe.json",
        "/run?id=0/out",
        "/run?id=0/..",
        "/run?id=0/cli-run%00",
        "/static/%2e%2e/%2e%2e/app.py",
    ],
    ids=lambda p: p.split("?")[-1][:40],
)
def test_paths_out_of_the_served_folders_are_refused(client, served, path, tmp_path):
    outside = tmp_path / "outside"
    (outside / "best_model").mkdir(parents=True)
    (outside / "history.sqlite").write_bytes((served / "cli-run" / "history.sqlite").read_bytes())
    if not (served / "out").exists():
        (served / "out").symlink_to(outside, target_is_directory=True)
    leak = served / "cli-run" / "best_model" / "leak"
    if not leak.exists():
        leak.symlink_to(served / "tiny.onnx")
    answer = client.get(path)
    assert answer.status_code in (403, 404), answer.text


def test_downloads_serve_the_tuned_model_and_recipe(client, served):
    recipe = client.get("/download?id=0/cli-run&file=recipe.json")
    assert recipe.status_code == 200
    assert recipe.json() == json.loads((served / "cli-run" / "best_model" / "recipe.json").read_text())
    archive = client.get("/download/zip?id=0/cli-run")
    assert archive.status_code == 200 and archive.content[:2] == b"PK"


def _draft(client, name: str) -> str:
    answer = client.post("/api/runs", json={"name": name, "yaml": "tuning: {strategy: {name: basic}}\n"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_uploads_over_the_limit_are_refused(client, served):
    run_id = _draft(client, "limits")
    folder = served / "limits"
    declared = client.put(f"/api/upload?id={run_id}&role=model&filename=m.onnx", content=b"0" * (LIMIT + 1))
    assert declared.status_code == 413 and "limit is 0.1 MiB" in declared.json()["error"]

    def chunks():  # no Content-Length: the server counts as it reads
        for _ in range(10):
            yield b"0" * (LIMIT // 4)

    streamed = client.put(f"/api/upload?id={run_id}&role=model&filename=m.onnx", content=chunks())
    assert streamed.status_code == 413
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml", "ui-run.json"]  # no part left
    fine = client.put(f"/api/upload?id={run_id}&role=model&filename=m.onnx", content=b"0" * LIMIT)
    assert fine.status_code == 200 and fine.json() == {"file": "model.onnx", "bytes": LIMIT}


def test_data_uploads_must_be_plain_npz(client, served, tmp_path):
    run_id = _draft(client, "data-rules")
    url = f"/api/upload?id={run_id}&role=data&filename=d.npz"
    np.savez(tmp_path / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    refused = client.put(url, content=(tmp_path / "pickled.npz").read_bytes())
    assert refused.status_code == 400 and "not a readable .npz of plain arrays" in refused.json()["error"]
    np.savez(tmp_path / "no_x.npz", inputs=np.zeros(3))
    assert "expected an array named 'x'" in client.put(url, content=(tmp_path / "no_x.npz").read_bytes()).text
    assert not (served / "data-rules" / "data.npz").exists()
    assert client.put(url.replace("d.npz", "d.csv"), content=b"1,2").status_code == 400
    assert client.put(url.replace("role=data", "role=code"), content=b"").status_code == 400
    record = RunRecord.read(served / "data-rules")
    record.pid = 1
    record.write(served / "data-rules")  # as if started: its inputs may no longer change
    assert (
        client.put(
            url.replace("role=data&filename=d.npz", "role=model&filename=m.onnx"), content=b"0"
        ).status_code
        == 409
    )


def test_a_config_from_the_page_names_no_code(client):
    answer = client.post(
        "/api/config/check", json={"yaml": "evaluation: {accuracy: {metric: {'os:system': {}}}}\n"}
    )
    assert answer.status_code == 400
    assert "import path; lpot ui starts no user code" in answer.json()["error"]
    typo = client.post("/api/config/check", json={"yaml": "tuning: {acuracy_criterion: {relative: 0.01}}\n"})
    assert typo.status_code == 400
    assert typo.json()["error"].startswith("config.yaml: unknown key 'tuning.acuracy_criterion'")
    assert "did you mean 'accuracy_criterion'" in typo.json()["error"]
    bad = client.post("/api/config/preview", json={"max_trials": "many"})
    assert bad.status_code == 400 and "max_trials" in bad.json()["error"]
    assert client.post("/api/config/preview", json={"import": "os"}).status_code == 400


def test_the_workspace_of_a_run_is_its_folder(client, served):
    text = "tuning: {workspace: {path: /tmp/somewhere-else}}\n"
    run_id = client.post("/api/runs", json={"name": "own-folder", "yaml": text}).json()["id"]
    written = yaml.safe_load((served / "own-folder" / "config.yaml").read_text())
    assert written["tuning"]["workspace"]["path"] == str(served / "own-folder")
    assert run_id == "0/own-folder"
    for name in ("../escape", "a/b", ".hidden", ""):
        answer = client.post("/api/runs", json={"name": name or "x" * 65, "yaml": text})
        assert answer.status_code == 400, name
    assert client.post("/api/runs", json={"name": "own-folder", "yaml": text}).status_code == 400  # exists


def test_seeding_a_run_the_ui_did_not_start_goes_to_the_new_run_page(client, served):
    ops = [
        op["name"]
        for op in json.loads((served / "cli-run" / "best_model" / "recipe.json").read_text())["ops"]
    ]
    unknown = client.post("/api/seed?id=0/cli-run&trial=1", json={"ops": ["no-such-op"]})
    assert unknown.status_code == 400 and "no-such-op" in unknown.json()["error"]
    answer = client.post("/api/seed?id=0/cli-run&trial=1", json={"ops": ops[:1]})
    assert answer.status_code == 200
    page = client.get(answer.json()["redirect"])
    assert page.status_code == 200
    seeded = page.text.split('<textarea id="yaml"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]
    config = yaml.safe_load(html.unescape(seeded))
    assert config["quantization"]["op_wise"] == {ops[0]: {"activation": {"dtype": ["fp32"]}}}
    lpot.load_config(config)  # the history's copy of the config loads as a config again


def test_a_run_that_fails_shows_the_error_lpot_tune_printed(client, served):
    run_id = _draft(client, "broken")
    assert (
        client.put(f"/api/upload?id={run_id}&role=model&filename=m.onnx", content=b"not a model").status_code
        == 200
    )
    assert client.post(f"/api/start?id={run_id}").status_code == 200
    deadline = time.monotonic() + 60
    while (run := next(r for r in client.get("/api/runs").json() if r["id"] == run_id))["status"] != "failed":
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run["detail"].startswith("lpot: error:"), run
    assert "lpot: error:" in client.get(f"/run?id={run_id}").text
    assert client.post(f"/api/start?id={run_id}").status_code == 409  # started before: resume instead


def test_names_from_a_workspace_cannot_inject_markup(client, served):
    calibration = served / "cli-run" / "calibration"
    original = sorted(calibration.glob("*.json"))[0]
    stats = json.loads(original.read_text())
    stats["ranges"] = {"</script><script>alert(1)</script>": [0.0, 1.0], **stats["ranges"]}
    original.write_text(json.dumps(stats))
    page = client.get("/trial?id=0/cli-run&trial=1").text
    assert "<script>alert(1)" not in page
    assert "\\u003c/script>\\u003cscript>alert(1)" in page


def test_actions_the_state_does_not_allow(client):
    assert client.post("/api/stop?id=0/cli-run").status_code == 409
    assert client.post("/api/benchmark?id=0/cli-run", json={}).status_code == 409
    assert client.post("/api/resume?id=0/cli-run").status_code == 409  # not a run the UI started
    assert client.get("/trial?id=0/cli-run&trial=99").status_code == 404
    assert client.post("/api/benchmark?id=0/cli-run", json={"num_instances": 0}).status_code == 400
    assert client.get("/compare?id=0/cli-run").status_code == 400


def test_pages_render_for_a_run_tuned_from_the_command_line(client):
    for path in (
        "/",
        "/run?id=0/cli-run",
        "/trial?id=0/cli-run&trial=1",
        "/new",
        "/compare?id=0/cli-run&id=0/group/nested",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "lpot ui" in page.text


def test_import_lpot_loads_no_part_of_the_ui():
    code = (
        "import sys, lpot, lpot.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn') or m.startswith('lpot.ui')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_without_the_extra_one_line_names_the_install():
    code = "import sys; sys.modules['uvicorn'] = None; from lpot.cli import main; sys.exit(main(['ui', '--no-browser']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "lpot: error: lpot ui needs Starlette and uvicorn (uvicorn is not installed): pip install 'lpot-core[ui]'"
    ]
