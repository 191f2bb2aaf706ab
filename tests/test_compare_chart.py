"""The runtime chart (`compare --plot`, and `report` given several runs): one bar group per method, one bar
per run, log scale, titled with the machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.test_cli import CPU, GPU, METHODS, one_line_error
from tests.test_compare_guard import report, row_of
from xai_eval.report.chart import runtime_figure
from xai_eval.report.cli import main
from xai_eval.report.runs import Run, load_run

COMPARED = [method for method in METHODS if method != "Occlusion"]  # the GPU report has no Occlusion case


def one_thread(data: dict[str, Any]) -> None:
    data["machine_info"]["torch_num_threads"] = 1
    for bench in data["benchmarks"]:
        bench["stats"]["median"] *= 1.8


@pytest.fixture
def three(tmp_path: Path) -> list[Path]:
    return [report(tmp_path, "cpu.json"), report(tmp_path, "gpu.json", GPU), report(tmp_path, "cpu_1.json", CPU, one_thread)]


def test_one_group_per_method_and_one_bar_per_run(three: list[Path]) -> None:
    runs = [load_run(path) for path in three]
    ax = runtime_figure(runs).axes[0]
    assert ax.get_yscale() == "log"
    assert [label.get_text() for label in ax.get_xticklabels()] == COMPARED
    assert len(ax.containers) == 3
    for run, bars in zip(runs, ax.containers, strict=True):
        assert [bar.get_height() for bar in bars] == [run.cases["efficientnet_lite0", method].median_seconds for method in COMPARED]
        centres = [bar.get_x() + bar.get_width() / 2 for bar in bars]
        assert all(abs(centre - group) < 0.4 for group, centre in enumerate(centres)), centres
    title = ax.figure.get_suptitle()
    assert "AMD EPYC ×2 (2 threads) vs NVIDIA H100 80GB HBM3 (2 threads) vs AMD EPYC ×2 (1 thread)" in title
    legend = [text.get_text() for text in ax.figure.legends[0].get_texts()]
    assert legend == ["[A] AMD EPYC ×2, 2 threads", "[B] NVIDIA H100 80GB HBM3, 2 threads", "[C] AMD EPYC ×2, 1 thread"]


def bar_groups_in_png(path: Path, runs: list[Run]) -> tuple[tuple[int, int], int, float]:
    """The PNG's size, the number of coloured stretches on a pixel row just above the plot's bottom edge (one
    per bar group: a group's bars touch), and the pixels' standard deviation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = runtime_figure(runs)
    FigureCanvasAgg(fig).draw()  # lays the figure out as savefig does, to find the plot area
    box = fig.axes[0].get_window_extent()
    with Image.open(path) as image:
        size = image.size
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    row = pixels[size[1] - int(box.y0) - 4, int(box.x0) + 2: int(box.x1) - 2]
    coloured = (row.max(axis=1) - row.min(axis=1)) > 60
    groups = int(coloured[0]) + int(np.count_nonzero(coloured[1:] & ~coloured[:-1]))
    return size, groups, float(pixels.std())


def test_plot_writes_the_chart(three: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chart = tmp_path / "charts" / "runtime.png"
    assert main(["compare", *map(str, three), "--plot", str(chart)]) == 0
    assert f"wrote {chart}" in capsys.readouterr().out
    size, groups, spread = bar_groups_in_png(chart, [load_run(path) for path in three])
    assert size == (970, 600)  # 9.7 x 6 inches at 100 dpi: a width that grows with the methods
    assert spread > 20, "the chart is blank"
    assert groups == len(COMPARED)


def test_plot_must_be_a_writable_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(CPU), "--plot", str(tmp_path / "chart.svg")]) == 2
    one_line_error(capsys.readouterr().err, f"--plot {tmp_path / 'chart.svg'}: the chart is a PNG; give a file name ending in .png")
    (tmp_path / "file").write_text("")
    under_a_file = tmp_path / "file" / "chart.png"
    assert main(["compare", str(CPU), str(CPU), "--plot", str(under_a_file)]) == 2
    one_line_error(capsys.readouterr().err, f"--plot {under_a_file}: cannot write it (", "give a writable file path")


def test_report_of_several_runs_adds_the_comparison_and_chart(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", *map(str, three), "--out", str(out)]) == 0
    assert {path.name for path in out.iterdir()} == {"table.md", "table.csv", "fig1.png", "compare.md", "runtime.png", "report.html"}
    compare = (out / "compare.md").read_text()
    assert compare.startswith("* [A] cpu.json: AMD EPYC ×2, no GPU")
    assert row_of(compare, "IG")["[C] vs [A]"] == "1.8× slower"
    assert "not in every report, left out: [A] efficientnet_lite0/Occlusion" in compare
    size, groups, _ = bar_groups_in_png(out / "runtime.png", [load_run(path) for path in three])
    assert size == (970, 600) and groups == len(COMPARED)


def test_report_of_runs_of_different_work_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = report(tmp_path, "paper.json", CPU, lambda d: d["xai_eval"].update(profile="paper"))
    out = tmp_path / "report"
    assert main(["report", str(report(tmp_path, "cpu.json")), str(other), "--out", str(out)]) == 2
    one_line_error(
        capsys.readouterr().err,
        "report: [A] and [B] differ in profile (quick vs paper); compare them with: xai-eval compare --allow-different",
    )
    assert not out.exists()
