"""Reports of a toy workspace in every format: content checked, not just produced."""

from __future__ import annotations

import json

import pytest

import lpot
import toy_job
from lpot.report import write_report
from lpot.report.figures import quantity


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
    assert f"- why: Trial {data['best_trial']} " in text
    assert "| performance (ms) |" in text


def test_markdown_report_has_one_line_per_failed_trial(failing_workspace):
    text = write_report(failing_workspace, "md").read_text()
    failed = [line for line in text.splitlines() if line.startswith("| ") and "failed" in line]
    assert len(failed) >= 3 and all(len(line) < 250 for line in failed)
    assert sum("same error as trial" in line for line in failed) == len(failed) - 1


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


def test_html_report_opens_without_network(workspace, tmp_path):
    """Its only resource is the plotly.js copy written beside it, referenced relatively."""
    path = write_report(workspace, "html", tmp_path / "r.html")
    html = path.read_text()
    resources = _external_resources(html)
    assert len(resources) == 1 and resources[0].startswith("script src=plotly-"), resources
    assert (tmp_path / resources[0].split("=", 1)[1]).stat().st_size > 1_000_000
    assert 'id="scatter"' in html and 'id="trials"' in html and 'id="ops"' in html
    assert html.count("<tr class=") == len(json.loads(write_report(workspace, "json").read_text())["trials"])


def test_inline_html_report_is_one_file(workspace, tmp_path):
    path = write_report(workspace, "html", tmp_path / "one.html", inline=True)
    assert _external_resources(path.read_text()) == [] and sorted(tmp_path.iterdir()) == [path]
    assert path.stat().st_size > 1_000_000  # plotly.js inside


class FailingEval(toy_job.PenalizingEval):
    """Every recipe with fc3 in INT8 fails with the same long error, as a backend's refusal does."""

    ERROR = "kernel for fc3 refused the input: " + "a long backend explanation " * 12

    def __call__(self, model):
        from lpot_toy.model import QuantizedMLP

        if isinstance(model, QuantizedMLP) and "fc3" in model.int8_layers:
            raise RuntimeError(self.ERROR)
        return super().__call__(model)


@pytest.fixture(scope="module")
def failing_workspace(tmp_path_factory):
    ws = tmp_path_factory.mktemp("failing")
    calib, _ = toy_job.loaders()
    lpot.tune(
        toy_job.make_model(),
        q_dataloader=calib,
        eval_func=FailingEval(("fc2",)),
        config=toy_job.config(ws),
        progress=False,
    )
    return ws


def _rows(html: str) -> list[str]:
    body = html.split('<table id="trials">', 1)[1].split("</table>", 1)[0]
    return body.split("<tbody>", 1)[1].split("<tr ")[1:]


def test_report_of_many_trials_is_small_and_reports_share_one_plotly(failing_workspace, tmp_path):
    first = write_report(failing_workspace, "html", tmp_path / "a.html")
    second = write_report(failing_workspace, "html", tmp_path / "b.html")
    trials = len(_rows(first.read_text()))
    assert trials >= 10
    assert first.stat().st_size < 100_000, first.stat().st_size  # was 4.8 MB for 14 trials
    scripts = sorted(p.name for p in tmp_path.glob("plotly-*.min.js"))
    assert len(scripts) == 1 and f'src="{scripts[0]}"' in second.read_text()


def test_repeated_long_errors_are_one_line_each_with_details_on_demand(failing_workspace):
    html = write_report(failing_workspace, "html").read_text()
    failed = [row for row in _rows(html) if "<details>" in row]
    assert len(failed) >= 3
    summaries = [row.split("<summary>", 1)[1].split("</summary>", 1)[0] for row in failed]
    assert summaries[0].startswith("failed: evaluation: eval_func raised RuntimeError: kernel for fc3")
    assert all(len(s) < 110 for s in summaries), summaries  # one line, not the 350-character error
    first = failed[0].split('<td class="num">', 1)[1].split("<", 1)[0]
    assert summaries[1:] == [f"failed: same error as trial {first}"] * (len(failed) - 1)
    assert all(FailingEval.ERROR.strip() in row.split("<pre>", 1)[1] for row in failed)  # in full


def test_the_chosen_trial_is_given_with_units_and_why(failing_workspace):
    data = json.loads(write_report(failing_workspace, "json").read_text())
    html = write_report(failing_workspace, "html").read_text()
    chosen = html.split('<dd id="chosen">', 1)[1].split("</dd>", 1)[0]
    assert f"trial {data['best_trial']} " in chosen and " ms;" in chosen and "INT8 op" in chosen
    why = html.split('<dd id="why-chosen">', 1)[1].split("</dd>", 1)[0]
    met = [t for t in data["trials"] if t["met"]]
    assert why.startswith(f"Trial {data['best_trial']} ") and why.endswith(".")
    if len(met) == 1:
        assert "the only trial that met the goal (accuracy" in why
    else:
        assert "with the lowest performance" in why and f"of the {len(met)} trials that met it" in why


def test_why_chosen_names_the_objective_among_several_met(workspace):
    from lpot.report.data import load_report
    from lpot.report.explain import chosen_reason

    data = load_report(workspace)
    for trial in data.trials:
        trial.met, trial.status = True, "ok"  # as if the search had gone on after the first met
    best = min(data.trials, key=lambda t: t.objective)
    data.best_trial = best.index
    why = chosen_reason(data)
    assert why.startswith(f"Trial {best.index} met the goal (accuracy ")
    assert f"with the lowest performance, {quantity(best.objective, 'ms')}, of the {len(data.trials)}" in why
    data.best_trial, best.met = best.index, False
    assert chosen_reason(data).startswith(
        f"No trial met the goal, so trial {best.index} is shown as the closest"
    )


def test_a_dash_for_per_op_error_is_explained(workspace):
    html = write_report(workspace, "html").read_text()
    ops = html.split('<table id="ops">', 1)[1].split("</table>", 1)[0]
    data = json.loads(write_report(workspace, "json").read_text())
    fp32 = [op for op in data["best_ops"] if not op["quantized"]]
    assert fp32 and ops.count('title="not quantized: nothing to compare with FP32">-</td>') == len(fp32)
    assert 'id="ops-note"' in html and 'an op kept in FP32 (or BF16) shows "-"' in html


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_goal_label_sits_on_the_side_away_from_fp32(workspace, higher_is_better):
    from lpot.report.data import load_report
    from lpot.report.html import accuracy_figure

    data = load_report(workspace)
    data.meta["higher_is_better"] = higher_is_better
    (label,) = accuracy_figure(data).layout.annotations
    assert label.text == f"accuracy goal {data.goal:.4g}" and label.y == data.goal
    # FP32 meets its own goal: above the line when higher is better, so the label goes below it
    assert data.baseline_accuracy > data.goal
    assert label.yanchor == ("top" if higher_is_better else "bottom"), label
