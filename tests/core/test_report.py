"""Reports of a toy workspace in every format: content checked, not just produced."""

from __future__ import annotations

import json

import pytest

import lpot
import toy_job
from lpot.report import write_report


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    calib, _ = toy_job.loaders()
    lpot.tune(
        toy_job.make_model(),
        q_dataloader=calib,
        eval_func=toy_job.PenalizingEval(("fc2",)),
        config=toy_job.config(ws),
        progress=False,
    )
    return ws


def test_json_report_has_every_trial_and_the_chosen_recipe(workspace):
    data = json.loads(write_report(workspace, "json").read_text())
    assert data["meta"]["status"] == "met" and data["meta"]["backend"] == "toy"
    assert len(data["trials"]) >= 3 and data["best_trial"] == data["trials"][-1]["index"]
    ops = {op["name"]: op for op in data["best_ops"]}
    assert ops["fc2"]["activation"] == "fp32" and ops["fc1"]["activation"].startswith("uint8")
    assert ops["fc1"]["sensitivity"] is not None and ops["fc2"]["sensitivity"] is None
    assert data["goal"] == pytest.approx(data["baseline_accuracy"] * 0.99)


def test_markdown_report_table(workspace):
    text = write_report(workspace, "md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| trial")]
    data = json.loads(write_report(workspace, "json").read_text())
    assert len(rows) == len(data["trials"])
    assert "(best)" in text and "status: **met**" in text


def _external_resources(html: str) -> list[str]:
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                if name in ("src", "href") and value and not value.startswith("#"):
                    found.append(f"{tag} {name}={value}")

    Parser().feed(html)
    return found


def test_html_report_is_self_contained(workspace, tmp_path):
    path = write_report(workspace, "html", tmp_path / "r.html")
    html = path.read_text()
    assert _external_resources(html) == []  # no network needed to open it
    assert 'id="scatter"' in html and 'id="trials"' in html and 'id="ops"' in html
    assert html.count("<tr class=") == len(json.loads(write_report(workspace, "json").read_text())["trials"])
