"""`xai-eval compare` on the measured runs committed in benchmarks/results: an H100 and a CPU run of the
same work compare without a flag, a third run adds a column, and a run of another profile is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import METHODS, one_line_error
from tests.test_compare_chart import bar_groups_in_png
from tests.test_compare_guard import markdown_rows
from xai_eval.report.cli import main
from xai_eval.report.runs import load_run

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
H100, H100_PAPER = RESULTS / "h100_quick.json", RESULTS / "h100_paper.json"
CPU_2_THREADS, CPU_1_THREAD = RESULTS / "cpu_quick_2threads.json", RESULTS / "cpu_quick_1thread.json"


def test_the_h100_and_a_cpu_run_compare_without_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(H100), str(CPU_2_THREADS)]) == 0
    out = capsys.readouterr().out
    rows = markdown_rows(out)
    assert [row["method"] for row in rows] == METHODS
    assert all(row["[B] vs [A]"].endswith("× slower") for row in rows), rows
    assert "--allow-different" not in out


def test_a_third_run_adds_a_column_and_the_chart_a_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "runtime.png"
    runs = [H100, CPU_2_THREADS, CPU_1_THREAD]
    assert main(["compare", *map(str, runs), "--plot", str(chart)]) == 0
    headings = list(markdown_rows(capsys.readouterr().out)[0])
    assert len(headings) == 2 + 3 + 2 + 1
    assert headings[5].startswith("[C] ") and "1 thread" in headings[5] and headings[6] == "[C] vs [A]"
    size, groups, spread = bar_groups_in_png(chart, [load_run(path) for path in runs])
    assert size == (1080, 600) and groups == len(METHODS) and spread > 20


def test_a_run_of_another_profile_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(H100), str(H100_PAPER)]) == 2
    one_line_error(capsys.readouterr().err, "compare: [A] and [B] differ in profile (quick vs paper); pass --allow-different")
