"""Every metric in `xai-eval report`'s Table I (its mean and the methods' ranks side by side) and in
`xai-eval compare` (a block per metric), from the benchmark JSON a run writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xai_eval.records.floors import ROAD_ATOL
from xai_eval.report.cli import main
from xai_eval.report.runs import load_run
from xai_eval.report.tables import ranks, table

from .test_cli import CPU, METHODS, modified

GAPS = {"IG": 0.05, "IG-SG": 0.40, "IG-VG": 0.35, "GradientSHAP": 0.02, "Occlusion": 0.10, "LRP": 0.0,
        "GuidedBackprop": -0.05, "GuidedGradCAM": -0.10}


def with_metrics(data: dict[str, Any], shift: float = 0.0, describe: bool = True) -> None:
    """ROAD gaps (higher is better) and an undescribed user metric on every image of every method."""
    for bench in data["benchmarks"]:
        info = bench["extra_info"]["xai_eval"]
        images = list(info["max_sensitivity"])
        info["metrics"] = {"road": {image: GAPS[info["method"]] + shift for image in images},
                           "mine": {image: 1.0 for image in images}}
    if describe:
        data["xai_eval"]["metrics"] = {"max_sensitivity": {"label": "max sensitivity", "lower_is_better": True},
                                       "road": {"label": "ROAD gap", "lower_is_better": False}}


def test_ranks_are_competition_ranks_in_the_metric_direction() -> None:
    assert ranks([0.3, 0.1, 0.2, None], lower_is_better=True) == [3, 1, 2, None]
    assert ranks([0.3, 0.1, 0.3], lower_is_better=False) == [1, 3, 1]


def test_table_i_has_every_metric_and_ranks_the_methods_under_each(tmp_path: Path) -> None:
    frame = table(load_run(modified(CPU, tmp_path / "run.json", with_metrics)))
    model = frame.index.get_level_values(0)[0]
    rows = frame.loc[model]
    assert list(rows.loc["ROAD gap (mean)", METHODS]) == pytest.approx([GAPS[m] for m in METHODS])
    road_ranks = rows.loc["rank: ROAD gap (higher is better)", METHODS].tolist()
    assert road_ranks == ["4", "1", "2", "5", "3", "6", "7", "8"]
    sensitivity = [rows.loc["max sensitivity (mean)", m] for m in METHODS]
    expected = ranks(sensitivity, lower_is_better=True)
    assert rows.loc["rank: max sensitivity (lower is better)", METHODS].tolist() == [str(r) for r in expected]
    assert rows.loc["mine (mean)", "IG"] == 1.0  # a metric the report does not describe is shown ...
    assert not any(label.startswith("rank: mine") for label in rows.index)  # ... and never ranked


def test_report_cli_writes_the_metric_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = modified(CPU, tmp_path / "run.json", with_metrics)
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "table.md").read_text()
    assert "| ROAD gap (mean) |" in markdown and "| rank: ROAD gap (higher is better) | 4 | 1 | 2 |" in markdown
    assert "rank: ROAD gap (higher is better)" in (tmp_path / "out" / "table.csv").read_text()


def test_compare_prints_a_column_per_metric_with_differences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = modified(CPU, tmp_path / "a.json", with_metrics)
    second = modified(CPU, tmp_path / "b.json", lambda data: with_metrics(data, shift=0.01))
    assert main(["compare", str(first), str(second)]) == 0
    out = capsys.readouterr().out
    header = next(row for row in out.splitlines() if row.startswith("| model"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    assert columns[-3:] == ["max sens. Δ", "ROAD gap Δ", "mine Δ"], columns
    line = next(row for row in out.splitlines() if " IG-SG " in row)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[columns.index("ROAD gap Δ")].startswith("0.01") and cells[columns.index("max sens. Δ")].startswith("0 ")
    assert "ROAD gap: " in out and "mine: " in out  # each metric's floor is named


def test_a_report_without_metrics_still_reads(tmp_path: Path) -> None:
    frame = table(load_run(CPU))
    labels = list(frame.index.get_level_values(1))
    assert "rank: max sensitivity (lower is better)" in labels and not any("ROAD" in label for label in labels)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["benchmarks"][0]["extra_info"]["xai_eval"].__setitem__("metrics", {"road": {"coffee": "high"}}),
         "'extra_info.xai_eval.metrics.road.coffee' must be a finite number"),
        (lambda d: d["benchmarks"][0]["extra_info"]["xai_eval"].__setitem__("metrics", {"road": 3}),
         "'extra_info.xai_eval.metrics.road' must be an object"),
        (lambda d: d["xai_eval"].__setitem__("metrics", {"road": {"label": "ROAD gap", "lower_is_better": "no"}}),
         "'xai_eval.metrics.road.lower_is_better' must be true or false"),
        (lambda d: d["xai_eval"].__setitem__("metrics", {"road": {"lower_is_better": False}}),
         "'xai_eval.metrics.road.label' is missing"),
    ],
)
def test_malformed_metric_entries_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], change, message: str) -> None:
    bad = modified(CPU, tmp_path / "bad.json", change)
    assert main(["report", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_run_writes_every_metric_into_its_benchmark_json(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_runtime="""
        import pytest

        @pytest.mark.xai_one_image
        def test_runtime(xai_case, xai_benchmark):
            xai_benchmark(xai_case)
        """,
        test_metrics="""
        def test_metric(xai_case, xai_metric, xai_baselines):
            xai_baselines.check_metric(xai_case, xai_metric)
        """,
    )
    gate_project.runpytest("--xai-update-baselines", "--benchmark-json=run.json").assert_outcomes(passed=4 + 20 + 2)
    data = json.loads((gate_project.path / "run.json").read_text())
    info = next(b["extra_info"]["xai_eval"] for b in data["benchmarks"] if b["extra_info"]["xai_eval"]["method"] == "LRP")
    assert set(info["metrics"]) == {"avg_sensitivity", "infidelity", "ris", "ros", "road"}
    assert set(info["metrics"]["road"]) == {"a", "b"}
    assert data["xai_eval"]["metrics"]["road"] == {"label": "ROAD gap", "lower_is_better": False, "rtol": 0.0, "atol": ROAD_ATOL}
    assert list(data["xai_eval"]["metrics"])[0] == "max_sensitivity"
    frame = table(load_run(gate_project.path / "run.json"))
    labels = set(frame.index.get_level_values(1))
    assert {"infidelity (mean)", "RIS (mean)", "rank: ROAD gap (higher is better)", "rank: ROS (lower is better)"} <= labels
