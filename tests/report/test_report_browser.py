"""The HTML report in a real headless Chromium: loads without console errors, one row per trial,
charts rendered, sorting works. A screenshot is kept in test-artifacts/ for people to look at."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import lpot
import toy_job
from chromium import chromium
from lpot.report import write_report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    driver = chromium(window=(1200, 1600))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    calib, _ = toy_job.loaders()
    lpot.tune(
        toy_job.make_model(),
        q_dataloader=calib,
        eval_func=toy_job.PenalizingEval(("fc2", "fc3")),
        config=toy_job.config(ws),
        progress=False,
    )
    trials = json.loads(write_report(ws, "json").read_text())["trials"]
    return write_report(ws, "html"), trials


def test_report_renders_in_chromium(browser, report):
    path, trials = report
    browser.get(path.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    rows = browser.find_elements("css selector", "#trials tbody tr")
    assert len(rows) == len(trials)
    assert browser.execute_script("return document.querySelectorAll('#scatter .main-svg').length") > 0
    assert browser.execute_script("return document.querySelectorAll('#scatter .point').length") >= len(trials)
    assert browser.execute_script("return document.querySelectorAll('#sensitivity .main-svg').length") > 0
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "report.png"))


def test_trials_table_sorts_by_accuracy(browser, report):
    path, trials = report
    browser.get(path.as_uri())
    browser.find_elements("css selector", "#trials th")[2].click()
    shown = [
        float(r.find_elements("css selector", "td")[2].text)
        for r in browser.find_elements("css selector", "#trials tbody tr")
    ]
    assert shown == sorted(shown)
    browser.find_elements("css selector", "#trials th")[2].click()
    shown = [
        float(r.find_elements("css selector", "td")[2].text)
        for r in browser.find_elements("css selector", "#trials tbody tr")
    ]
    assert shown == sorted(shown, reverse=True)
