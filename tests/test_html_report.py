"""``report.html`` of the default gate (a real run, merged from 2 shards, committed under benchmarks/results/):
self-contained, every case in it, and drawn by a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from xai_eval.report.cli import main
from xai_eval.report.html import HEADER_COLOUR

RESULTS = Path(__file__).parent.parent / "benchmarks" / "results"
RUN = RESULTS / "cpu_quick_2shards.json"
CASES = RESULTS / "cpu_quick_2shards_results.json"
METHODS = ("IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1400, 4000


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(RUN), "--results", str(CASES), "--out", str(out)]) == 0
    return out / "report.html"


def test_the_page_is_self_contained_and_has_every_case(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html) and "<script" not in html and "@import" not in html
    images = re.findall(r'<img alt="" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', html)
    assert len(images) == 1 and len(images[0]) > 100_000, "Fig. 1, embedded (no snapshot changed in this run)"
    cases = json.loads(CASES.read_text())["cases"]
    assert len(cases) == 24 and "merged from 2 shards" in html
    for case in cases:
        row = re.search(rf"<tr><td>quick/efficientnet_lite0/{re.escape(case['method'])}/{case['image']}</td>(.*?)</tr>", html)
        assert row is not None, case["method"]
        assert f"{case['max_sensitivity']['value']:.4g}" in row.group(1)  # its number, in its row
    table_i = html[html.index('id="table-i"'):html.index('id="cases"')]
    assert all(f"<th>{method}</th>" in table_i for method in METHODS)


def test_without_its_results_file_the_page_says_how_to_get_every_case(tmp_path: Path) -> None:
    assert main(["report", str(RUN), "--out", str(tmp_path)]) == 0
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "--results RESULTS.json" in html and "quick/efficientnet_lite0/IG/coffee" not in html
    assert 'id="table-i"' in html and html.count("data:image/png;base64,") == 1


def test_report_refuses_a_benchmark_json_as_its_results_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(RUN), "--results", str(RUN), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a benchmark JSON, not a results file" in err
    assert not (tmp_path / "out").exists()


def test_a_results_file_alone_makes_the_page_without_runtimes_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--results", str(CASES), "--out", str(tmp_path)]) == 0
    assert "a results file alone: report.html without runtimes and heat maps" in capsys.readouterr().out
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]
    assert "data:image/png" not in html and html.count("Not in this report:") == 2
    assert "machine: not known (recorded in the benchmark JSON)" in html and "torch threads 1" in html
    for case in json.loads(CASES.read_text())["cases"]:
        assert f"quick/efficientnet_lite0/{case['method']}/{case['image']}" in html
    ig = next(case for case in json.loads(CASES.read_text())["cases"] if case["method"] == "IG" and case["image"] == "cat")
    table_i = html.split('id="table-i"')[1].split("<h2")[0]
    assert f">{ig['max_sensitivity']['value']:.4g}<" in table_i and "<th>mean</th>" in table_i


def test_a_results_file_of_another_run_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other_results.json"
    data = json.loads(CASES.read_text())
    data["run"]["threads"] = 2
    other.write_text(json.dumps(data))
    assert main(["report", str(RUN), "--results", str(other), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--results {other}: from another run than {RUN} (threads 2 vs 1)" in err, err
    assert not (tmp_path / "out").exists()


def test_report_without_any_file_says_what_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    assert "report: give a benchmark JSON (pytest --benchmark-json RUN.json), a results file" in capsys.readouterr().err


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless browser on PATH (chromium or google-chrome): install one, e.g. apt-get install chromium"
                " (.ci/run does where apt-get is available)")


def test_the_default_gates_report_renders_in_a_headless_browser(page: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
         f"--window-size={WIDTH},{HEIGHT}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    header = (np.abs(pixels - [int(HEADER_COLOUR[i:i + 2], 16) for i in (1, 3, 5)]) <= 8).all(axis=-1)
    rows = np.flatnonzero(header.sum(axis=1) > 600)  # Table I's header row: 10 columns, wider than 600 px
    assert rows.size, "no table header was drawn"
    top, bottom = rows[0], rows[rows < rows[0] + 60].max()  # its header band, first on the page
    assert top < 400, "Table I comes first"
    columns = np.flatnonzero(header[top:bottom + 1].any(axis=0))
    left, right = columns.min(), columns.max()
    assert (pixels[top:bottom + 1, left:right].min(axis=-1) > 200).sum() > 200, "white header text"
    body = pixels[bottom + 2:bottom + 300, left:right]
    assert (body.max(axis=-1) < 120).sum() > 3000, "dark text in Table I's rows"
    greens = (pixels[:, :, 1] - pixels[:, :, 0] > 40) & (pixels[:, :, 1] - pixels[:, :, 2] > 20)
    assert greens[bottom + 300:].sum() > 5000, "the heat maps (Greens) drawn from the embedded PNG"
