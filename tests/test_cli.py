"""The xai-eval CLI on small committed reports (tests/data): report, compare and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from xai_eval.report.cli import main

DATA = Path(__file__).parent / "data"
CPU = DATA / "run_cpu.json"
GPU = DATA / "run_synthetic_gpu.json"
METHODS = ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM"]
REMAKE = "re-create the report with: pytest suites/ --benchmark-json=FILE"


def modified(path: Path, out: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the report ``path`` at ``out``, with ``change`` applied to its JSON."""
    data = json.loads(path.read_text())
    change(data)
    out.write_text(json.dumps(data))
    return out


def set_rounds(rounds: int) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for bench in data["benchmarks"]:
            bench["stats"]["rounds"] = rounds

    return change


def one_line_error(err: str, *parts: str) -> None:
    assert err.count("\n") == 1 and err.startswith("xai-eval: error: ") and "Traceback" not in err, err
    for part in parts:
        assert part in err, (part, err)


def test_report_writes_table_and_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(CPU), "--out", str(tmp_path / "report")]) == 0
    out = tmp_path / "report"
    markdown = (out / "table.md").read_text()
    assert markdown.splitlines()[0] == "| model | metric | " + " | ".join(METHODS) + " |"
    for row in ("max sensitivity (mean)", "median runtime (s)", "randomisation test", "LRP conservation (bias-free)"):
        assert f"| {row} |" in markdown
    assert "0/2 pass (2 known failure)" in markdown  # Guided Backprop's strict xfail
    import pandas as pd

    frame = pd.read_csv(out / "table.csv", index_col=[0, 1])
    assert list(frame.columns) == METHODS
    assert float(frame.loc[("efficientnet_lite0", "median runtime (s)"), "IG"]) == pytest.approx(1.714, rel=1e-3)
    assert "wrote" in capsys.readouterr().out


def test_report_says_inconclusive_where_a_check_was(tmp_path: Path) -> None:
    """A sanity check that recorded its numbers and then skipped was inconclusive, never a failed pass."""

    def inconclusive(data: dict[str, Any]) -> None:
        for bench in data["benchmarks"]:
            info = bench["extra_info"]["xai_eval"]
            for image, checks in info["sanity"].items():
                if info["method"] == "GradientSHAP" or (info["method"] == "IG" and image == "cat"):
                    checks["completeness"]["outcome"] = "skipped"

    out = tmp_path / "report"
    assert main(["report", str(modified(CPU, tmp_path / "run.json", inconclusive)), "--out", str(out)]) == 0
    import pandas as pd

    for frame in (pd.read_csv(out / "table.csv", index_col=[0, 1]), _markdown_frame(out / "table.md")):
        row = frame.loc[("efficientnet_lite0", "completeness")]
        assert (row["GradientSHAP"], row["IG"]) == ("2/2 inconclusive", "1/2 pass, 1 inconclusive")


def _markdown_frame(path: Path):  # -> pandas.DataFrame
    import pandas as pd

    header, _, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in path.read_text().splitlines()]
    return pd.DataFrame(rows, columns=header).set_index(["model", "metric"])


def test_figure_has_the_expected_size_and_is_not_blank(tmp_path: Path) -> None:
    assert main(["report", str(CPU), "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "fig1.png") as image:
        assert image.size == (1600, 1600)
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10, "the figure is blank"
    green = (pixels[..., 1] > pixels[..., 0] + 20).mean()
    assert green > 0.01, "no heat map was drawn"


def test_compare_prints_machines_ratios_and_differences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(GPU), "--allow-different"]) == 0  # GPU's cases lack Occlusion
    out = capsys.readouterr().out
    assert "[A] " + str(CPU) + ": AMD EPYC ×2, no GPU, torch 2.14.1" in out
    assert "[B] " + str(GPU) + ": AMD EPYC ×2, NVIDIA H100 80GB HBM3" in out
    assert "--allow-different: [A] and [B] differ in methods (Occlusion only in [A])\n" in out
    ig = next(line for line in out.splitlines() if "| IG " in line)
    assert "| 1.71 s " in ig and "| 343 ms " in ig and "| 5.0× faster " in ig and "| 0.001 n/c " in ig
    assert "left out: [A] efficientnet_lite0/Occlusion" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON, so not a pytest-benchmark report"),
        ('{"benchmarks": []}', "not a pytest-benchmark JSON report"),
        ('{"machine_info": {}, "benchmarks": [{"name": "x", "stats": {"median": 1}, "extra_info": {}}]}',
         "a pytest-benchmark report without xai-eval extra_info"),
    ],
)
def test_bad_reports_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["report", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and str(bad) in err and "--benchmark-json" in err


def test_disjoint_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(CPU.read_text())
    for bench in data["benchmarks"]:
        bench["extra_info"]["xai_eval"]["model"] = "other_model"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data))
    assert main(["compare", str(CPU), str(other)]) == 2
    err = capsys.readouterr().err
    assert "have no (model, method) in common" in err and err.count("\n") == 1


def test_console_script_is_installed(tmp_path: Path) -> None:
    exe = shutil.which("xai-eval")
    command = [exe] if exe else [sys.executable, "-m", "xai_eval.report.cli"]
    done = subprocess.run([*command, "compare", str(CPU)], capture_output=True, text=True)
    assert done.returncode == 2 and "at least two reports" in done.stderr


def test_compare_averages_sensitivity_over_common_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(CPU.read_text())
    for bench in data["benchmarks"]:
        values = bench["extra_info"]["xai_eval"]["max_sensitivity"]
        values.pop("cat")
        values["extra"] = 99.0
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(data))
    assert main(["compare", str(CPU), str(partial)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "| IG-SG " in line]
    assert rows and rows[0].split("|")[-2].strip() == "0 n/c", rows


def test_out_that_is_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = tmp_path / "table.md"
    taken.write_text("not a folder")
    assert main(["report", str(CPU), "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err == f"xai-eval: error: --out {taken}: is a file, not a folder; give a folder path\n"
    assert taken.read_text() == "not a folder"


def test_out_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "report"
    assert main(["report", str(CPU), "--out", str(out)]) == 2
    one_line_error(capsys.readouterr().err, f"--out {out}: cannot create this folder (", "give a folder path that can be created")


def _benchmark(data: dict[str, Any]) -> dict[str, Any]:
    return data["benchmarks"][0]


def _info(data: dict[str, Any]) -> dict[str, Any]:
    return data["benchmarks"][0]["extra_info"]["xai_eval"]


# Each: how to break run_cpu.json, and the entry and key the one-line error must name.
MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "machine_info list": (lambda d: d.update(machine_info=["x"]), "'machine_info' must be an object, not a list"),
    "machine_info string": (lambda d: d.update(machine_info="x86"), "'machine_info' must be an object, not \"x86\""),
    "threads string": (lambda d: d["machine_info"].update(torch_num_threads="two"),
                       "'machine_info.torch_num_threads' must be a whole number >= 0, not \"two\""),
    "benchmark string": (lambda d: d["benchmarks"].insert(0, "IG"), "'benchmarks[0]' must be an object, not \"IG\""),
    "benchmark null": (lambda d: d["benchmarks"].append(None), "'benchmarks[8]' must be an object, not null"),
    "extra_info list": (lambda d: _benchmark(d).update(extra_info=[]),
                        "benchmark 'test_runtime[efficientnet_lite0-IG-coffee]': 'extra_info' must be an object, not a list"),
    "extra_info.xai_eval list": (lambda d: _benchmark(d)["extra_info"].update(xai_eval=[1]),
                      "'extra_info.xai_eval' must be an object, not a list"),
    "stats missing": (lambda d: _benchmark(d).pop("stats"),
                      "benchmark 'test_runtime[efficientnet_lite0-IG-coffee]': 'stats' is missing"),
    "stats list": (lambda d: _benchmark(d).update(stats=[1.7]), "'stats' must be an object, not a list"),
    "median string": (lambda d: _benchmark(d)["stats"].update(median="1.7"),
                      "'stats.median' must be a positive number, not \"1.7\""),
    "median zero": (lambda d: _benchmark(d)["stats"].update(median=0), "'stats.median' must be a positive number, not 0"),
    "rounds string": (lambda d: _benchmark(d)["stats"].update(rounds="3"),
                      "'stats.rounds' must be a whole number >= 0, not \"3\""),
    "model number": (lambda d: _info(d).update(model=3), "'extra_info.xai_eval.model' must be a non-empty string, not 3"),
    "method missing": (lambda d: _info(d).pop("method"), "'extra_info.xai_eval.method' is missing"),
    "max_sensitivity list": (lambda d: _info(d).update(max_sensitivity=[0.9]),
                             "'extra_info.xai_eval.max_sensitivity' must be an object, not a list"),
    "max_sensitivity string value": (lambda d: _info(d)["max_sensitivity"].update(cat="high"),
                                     "'extra_info.xai_eval.max_sensitivity.cat' must be a finite number, not \"high\""),
    "sanity string": (lambda d: _info(d)["sanity"].update(coffee="passed"),
                      "'extra_info.xai_eval.sanity.coffee' must be an object, not \"passed\""),
    "sanity outcome missing": (lambda d: _info(d)["sanity"]["coffee"]["well_formed"].pop("outcome"),
                               "'extra_info.xai_eval.sanity.coffee.well_formed.outcome' is missing"),
    "attribution string": (lambda d: _info(d).update(attribution="map"),
                           "'extra_info.xai_eval.attribution' must be an object, not \"map\""),
    "attribution shape": (lambda d: _info(d)["attribution"].update(shape=[3, 3]),
                          "'extra_info.xai_eval.attribution.float16_base64' is not base64 of 3x3 float16 values"),
    "top-level xai_eval list": (lambda d: d.update(xai_eval=["quick"]), "'xai_eval' must be an object, not a list"),
    "profile number": (lambda d: d["xai_eval"].update(profile=1), "'xai_eval.profile' must be a non-empty string, not 1"),
    "images list": (lambda d: d["xai_eval"].update(images_png_base64=[]),
                    "'xai_eval.images_png_base64' must be an object, not a list"),
    "image not a PNG": (lambda d: d["xai_eval"]["images_png_base64"].update({"efficientnet_lite0/coffee": "aGVsbG8="}),
                        "'xai_eval.images_png_base64.efficientnet_lite0/coffee' is not a base64 PNG of 8x8 pixels"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_reports_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    change, message = MALFORMED[name]
    bad = modified(CPU, tmp_path / "bad.json", change)
    assert main(["report", str(bad), "--out", str(tmp_path / "r")]) == 2
    one_line_error(capsys.readouterr().err, f"{bad}: ", message, REMAKE)


def test_null_max_sensitivity_is_left_blank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The run stores a non-finite max sensitivity as null: a blank cell, not a crash."""
    report = modified(CPU, tmp_path / "null.json", lambda d: _info(d)["max_sensitivity"].update(cat=None))
    assert main(["report", str(report), "--out", str(tmp_path / "r")]) == 0
    row = next(line for line in (tmp_path / "r" / "table.md").read_text().splitlines() if "max sensitivity [cat]" in line)
    assert row.split("|")[3].strip() == ""  # IG's cell
    assert main(["compare", str(CPU), str(report)]) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from xai_eval.version import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"xai-eval {__version__}\n"
