"""``lpot ui`` in a real headless Chromium, against the real command: open it with its token, start a
tune of a small ONNX model from the page and watch its trials arrive, diagnose a trial and seed a
run that keeps ops in FP32, compare runs, stop and resume, benchmark, download; and the refusals
(no token, ``../``, uploads over the limit). Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from chromium import chromium
from lpot.tuning.history import read_workspace
from lpot.ui.security import cookie_name

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
FINISHED = {"met", "budget_spent", "exhausted"}


def wait_until(check, timeout: float = 120, what: str = "the page"):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def shot(browser, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / name))


def find(browser, css: str):
    return browser.find_element(By.CSS_SELECTOR, css)


def rows(browser, css: str) -> list:
    return browser.find_elements(By.CSS_SELECTOR, css)


def click(browser, css: str) -> None:
    """Click what ``css`` finds, again if a pushed update replaced it in between."""
    for _ in range(20):
        try:
            find(browser, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError(f"{css} kept being replaced")


def count(browser, css: str) -> int:
    """How many elements match now (read in the page: fragments are replaced under selenium's feet)."""
    return browser.execute_script("return document.querySelectorAll(arguments[0]).length", css)


def console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def status(browser) -> str:
    return browser.execute_script(
        "const s = document.getElementById('status'); return s ? s.textContent : ''"
    )


def folder_of(server, run_id: str) -> Path:
    return server.runs / run_id.partition("/")[2]


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(server, downloads):
    driver = chromium(download_dir=downloads)
    driver.get(server.url)  # the first visit with the token sets the cookie
    yield driver
    driver.quit()


def start_from_page(browser, server, inputs, name: str, max_trials: int, timeout_s: int) -> str:
    """Fill the new-run form as a person would and press Start; returns the new run's id."""
    browser.get(server.base + "/new")
    find(browser, "#name").send_keys(name)
    find(browser, "#model-file").send_keys(str(inputs.model))
    find(browser, "#data-file").send_keys(str(inputs.data))
    for field, value in {"max_trials": max_trials, "timeout": timeout_s}.items():
        box = find(browser, f'#options [name="{field}"]')
        box.clear()
        box.send_keys(str(value) + Keys.TAB)
    expected = (f"max_trials: {max_trials}", f"timeout: {float(timeout_s)}")
    wait_until(
        lambda: all(e in find(browser, "#yaml").get_attribute("value") for e in expected), 20, "the YAML"
    )
    find(browser, "#start").click()
    wait_until(lambda: "/run?id=" in browser.current_url, 60, "the run page")
    return unquote(browser.current_url.split("id=", 1)[1])


def wait_finished(browser, seen: list[int] | None = None, timeout: float = 180) -> str:
    def done() -> bool:
        if seen is not None:
            seen.append(count(browser, "#trials-body tr[data-trial]"))
        return status(browser) in FINISHED | {"failed"}

    wait_until(done, timeout, "the tune to finish")
    time.sleep(1.0)  # the last update (downloads) follows the exit
    return status(browser)


@dataclass
class Tuned:
    id: str
    folder: Path
    initial_rows: int
    seen: list[int]
    same_document: str | None
    status: str


@pytest.fixture(scope="module")
def tuned(browser, server, inputs) -> Tuned:
    run_id = start_from_page(browser, server, inputs, "first", max_trials=14, timeout_s=120)
    initial = int(find(browser, "body").get_attribute("data-initial-trials"))
    browser.execute_script("window.__sameDocument = 'yes'")  # gone if the page ever reloads
    seen: list[int] = []

    def some_trials() -> bool:
        seen.append(count(browser, "#trials-body tr[data-trial]"))
        return seen[-1] >= 3 or status(browser) in FINISHED

    wait_until(some_trials, 120, "trials")
    if status(browser) == "running":
        shot(browser, "02-run-live.png")
    final = wait_finished(browser, seen)
    seen.append(count(browser, "#trials-body tr[data-trial]"))
    same = browser.execute_script("return window.__sameDocument || null")
    return Tuned(run_id, folder_of(server, run_id), initial, seen, same, final)


def test_the_page_opens_only_with_its_token(browser, server):
    browser.delete_all_cookies()
    browser.get(server.base + "/")
    assert "401" in find(browser, "body").text
    browser.get(server.base + "/?token=not-the-token")
    assert "403" in find(browser, "body").text
    browser.get(server.url)
    assert browser.current_url == server.base + "/"  # the token leaves the address bar
    cookie = browser.get_cookie(cookie_name(server.token))
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert find(browser, "h1").text == "Runs"
    shot(browser, "01-runs-empty.png")
    browser.get_log("browser")  # the 401 and 403 above were logged as console errors: meant


def test_a_tune_started_from_the_page_shows_its_trials_as_they_come(browser, tuned, server):
    assert tuned.status in FINISHED, (folder_of(server, tuned.id) / "tune.out").read_text()
    meta, _, trials = read_workspace(tuned.folder)
    assert tuned.same_document == "yes", "the page reloaded"
    assert tuned.initial_rows < len(trials), "the page was loaded after the run ended: nothing to watch"
    assert tuned.seen[-1] == len(trials)
    intermediate = {n for n in tuned.seen if tuned.initial_rows < n < len(trials)}
    assert intermediate, f"no trial appeared on its own before the last one: {sorted(set(tuned.seen))}"
    points = count(browser, "#chart .point")
    assert points >= len(trials)
    assert f"{len(trials)} trials of at most 14" in find(browser, "#summary").text
    assert meta["stop_reason"] in find(browser, "#summary").text
    config = yaml.safe_load((tuned.folder / "config.yaml").read_text())
    assert config["tuning"]["workspace"]["path"] == str(tuned.folder)
    assert console_errors(browser) == []
    shot(browser, "03-run-finished.png")


@dataclass
class Seeded:
    id: str
    folder: Path
    ops: list[str]


@pytest.fixture(scope="module")
def seeded(browser, server, tuned) -> Seeded:
    browser.get(f"{server.base}/run?id={tuned.id}")
    click(browser, "#trials-body tr.best a[href*='/trial']")
    wait_until(lambda: rows(browser, "#op-errors .main-svg"), 30, "the per-op error chart")
    worst = rows(browser, "#ops tbody tr")[0]
    assert float(worst.find_elements(By.TAG_NAME, "td")[5].text) >= 0
    worst.find_element(By.CSS_SELECTOR, ".op-pick").click()
    ops = [box.get_attribute("value") for box in rows(browser, ".op-pick") if box.is_selected()]
    assert worst.get_attribute("data-op") in ops
    assert rows(browser, "#ranges-0 .main-svg"), "no activation ranges drawn"
    assert console_errors(browser) == []
    shot(browser, "04-diagnose.png")
    find(browser, "#seed").click()
    wait_until(lambda: "/run?id=" in browser.current_url, 30, "the seeded run's page")
    run_id = unquote(browser.current_url.split("id=", 1)[1])
    assert wait_finished(browser) in FINISHED
    shot(browser, "05-seeded-run.png")
    return Seeded(run_id, folder_of(server, run_id), ops)


def test_keep_these_ops_in_fp32_seeds_a_run_with_that_op_wise(seeded, tuned):
    config = yaml.safe_load((seeded.folder / "config.yaml").read_text())
    assert config["quantization"]["op_wise"] == {op: {"activation": {"dtype": ["fp32"]}} for op in seeded.ops}
    record = json.loads((seeded.folder / "ui-run.json").read_text())
    assert record["parent"] == tuned.id
    assert (seeded.folder / record["model"]).read_bytes() == (tuned.folder / record["model"]).read_bytes()
    _, _, trials = read_workspace(seeded.folder)
    assert trials
    for trial in trials:  # no trial of the seeded run quantizes an op it was told to keep in FP32
        quantized = {key.name for key in trial.recipe.quantized_ops()}
        assert not set(seeded.ops) & quantized, (trial.index, sorted(quantized))


def test_compare_two_runs(browser, server, tuned, seeded):
    browser.get(server.base + "/")
    wait_until(lambda: count(browser, "#runs-body tr[data-id]") >= 2, 20, "two runs")
    for run_id in (tuned.id, seeded.id):
        find(browser, f'.pick[value="{run_id}"]').click()
    find(browser, "#compare").click()
    wait_until(lambda: "/compare?" in browser.current_url, 20, "the comparison")
    table = rows(browser, "#compare-table tbody tr")
    assert [(r.get_attribute("data-run"), r.get_attribute("data-model")) for r in table] == [
        (tuned.id, "fp32"),
        (tuned.id, "tuned"),
        (seeded.id, "fp32"),
        (seeded.id, "tuned"),
    ]
    assert all(float(r.find_elements(By.TAG_NAME, "td")[5].text) > 0 for r in table)  # accuracy
    wait_until(lambda: rows(browser, "#compare-chart .main-svg"), 20, "the comparison chart")
    assert count(browser, "#compare-chart .point") >= 4
    assert console_errors(browser) == []
    shot(browser, "06-compare.png")


def test_stop_and_resume(browser, server, inputs):
    run_id = start_from_page(browser, server, inputs, "stoppable", max_trials=16, timeout_s=300)
    wait_until(lambda: count(browser, "#trials-body tr[data-trial]"), 120, "a first trial")
    click(browser, '[data-action="stop"]')
    wait_until(lambda: status(browser) == "stopped", 60, "the run to stop")
    folder = folder_of(server, run_id)
    stopped = len(read_workspace(folder)[2])
    assert 0 < stopped < 16
    assert "continue with --resume" in (folder / "tune.out").read_text()
    shot(browser, "07-stopped.png")
    click(browser, '[data-action="resume"]')
    assert wait_finished(browser) in FINISHED
    trials = read_workspace(folder)[2]
    assert len(trials) > stopped
    assert [t.index for t in trials] == list(range(1, len(trials) + 1))


def test_benchmark_fp32_against_tuned_beside_the_run(browser, server, tuned):
    browser.get(f"{server.base}/run?id={tuned.id}")
    iterations = find(browser, '#benchmark-form [name="iterations"]')
    iterations.clear()
    iterations.send_keys("5")
    find(browser, "#benchmark-form button").click()
    wait_until(lambda: count(browser, "#benchmark-table tr[data-model]") >= 2, 120, "the benchmark")
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#benchmark-table tr[data-model]')].map(r => r.dataset.model)"
    )
    assert labels[:2] == ["fp32", "tuned"]
    assert "tuned" in find(browser, "#benchmark-table tr.caption").text
    stored = [json.loads(line) for line in (tuned.folder / "ui-benchmarks.jsonl").read_text().splitlines()]
    assert stored[-1]["settings"]["iterations"] == 5
    assert stored[-1]["result"]["results"]["tuned"]["latency_ms"] > 0
    assert stored[-1]["result"]["speedup"] > 0
    browser.execute_script("document.getElementById('benchmark').scrollIntoView()")
    shot(browser, "08-benchmark.png")


def test_download_the_tuned_model_and_its_recipe(browser, server, tuned, downloads):
    browser.get(f"{server.base}/run?id={tuned.id}")
    for name in ("model.onnx", "recipe.json"):
        click(browser, f'#downloads a[data-file="{name}"]')
        target = downloads / name
        wait_until(lambda t=target: t.exists() and not list(downloads.glob("*.crdownload")), 30, name)
        assert target.read_bytes() == (tuned.folder / "best_model" / name).read_bytes()
    import numpy as np
    import onnxruntime as ort

    # onnx.checker would refuse it: lpot-onnxrt saves QDQ nodes after their consumers (ORT sorts them)
    session = ort.InferenceSession(str(downloads / "model.onnx"))
    assert session.run(None, {"x": np.zeros((2, 64), np.float32)})[0].shape == (2, 10)


def _raw_get(server, path: str, token: bool = True) -> tuple[int, str]:
    """A GET whose path goes out exactly as written (a browser would normalize ``../`` away)."""
    parts = urlsplit(server.base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    if token:
        connection.putheader("X-Lpot-Token", server.token)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode(errors="replace")
    connection.close()
    return response.status, body


def test_requests_without_the_token_are_refused(server, tuned):
    for path in (
        "/",
        f"/run?id={tuned.id}",
        "/api/runs",
        "/static/ui.js",
        "/events/runs",
        "/plotly.js",
        f"/download?id={tuned.id}&file=model.onnx",
    ):
        assert _raw_get(server, path, token=False)[0] == 401, path
        request = urllib.request.Request(server.base + path, headers={"X-Lpot-Token": "wrong"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403, path
    assert _raw_get(server, "/api/runs")[0] == 200


def test_dotdot_and_symlinks_out_are_refused(server, tuned, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    (tuned.folder / "best_model" / "leak.txt").symlink_to(secret)
    (server.runs / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    paths = [
        "/static/../../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"/download?id={tuned.id}&file=../../../../../etc/passwd",
        f"/download?id={tuned.id}&file=..%2F..%2F..%2Fetc%2Fpasswd",
        f"/download?id={tuned.id}&file=/etc/passwd",
        f"/download?id={tuned.id}&file=leak.txt",
        f"/download?id={tuned.id}&file=../config.yaml",
        "/download?id=0/../../../etc&file=passwd",
        "/run?id=0/..",
        "/run?id=0/elsewhere",
        "/download?id=0/elsewhere&file=secret.txt",
    ]
    for path in paths:
        code, body = _raw_get(server, path)
        assert code in (403, 404), (path, code)
        assert "root:" not in body and "not for the page" not in body, path


def test_uploads_over_the_limit_are_refused(browser, server, inputs):
    browser.get(server.base + "/new")
    find(browser, "#name").send_keys("too-big")
    find(browser, "#model-file").send_keys(str(inputs.model))
    find(browser, "#data-file").send_keys(str(inputs.too_big))
    find(browser, "#start").click()
    message = wait_until(lambda: find(browser, "#message").text, 10, "the refusal")
    assert "is 5.0 MiB; the upload limit is 4.0 MiB" in message
    assert not (server.runs / "too-big").exists()
    shot(browser, "09-upload-too-big.png")
    # the server refuses it too, whatever the page checks: a draft run, then 4 MiB + 1 byte
    answer = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        (async () => {
          const yaml = document.getElementById("yaml").value;
          const made = await fetch("/api/runs", {method: "POST", headers: {"Content-Type": "application/json"},
                                                 body: JSON.stringify({name: "too-big-server", yaml})});
          const {id} = await made.json();
          const put = await fetch(`/api/upload?id=${encodeURIComponent(id)}&role=model&filename=m.onnx`,
                                  {method: "PUT", body: new Blob([new Uint8Array(4 * 1048576 + 1)])});
          done({status: put.status, body: await put.json()});
        })().catch((error) => done({status: -1, body: String(error)}));
        """
    )
    assert answer["status"] == 413, answer
    assert "limit is 4.0 MiB" in answer["body"]["error"]
    assert not list((server.runs / "too-big-server").glob("model*"))
