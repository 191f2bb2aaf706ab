"""The xai-eval CLI on small committed reports (tests/data): report, compare and bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xai_eval.report.cli import main

DATA = Path(__file__).parent / "data"
CPU = DATA / "run_cpu.json"
GPU = DATA / "run_synthetic_gpu.json"
METHODS = ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM"]


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


def test_figure_has_the_expected_size_and_is_not_blank(tmp_path: Path) -> None:
    assert main(["report", str(CPU), "--out", str(tmp_path)]) == 0
    with Image.open(tmp_path / "fig1.png") as image:
        assert image.size == (1600, 1600)
        pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    assert pixels.std() > 10, "the figure is blank"
    green = (pixels[..., 1] > pixels[..., 0] + 20).mean()
    assert green > 0.01, "no heat map was drawn"


def test_compare_prints_machines_speedups_and_differences(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(GPU)]) == 0
    out = capsys.readouterr().out
    assert "[A] " + str(CPU) + ": AMD EPYC, no GPU, torch 2.14.1" in out
    assert "[B] " + str(GPU) + ": AMD EPYC, NVIDIA H100 80GB HBM3" in out
    assert "speed-up [B]" in out and "diff [B]" in out
    ig = next(line for line in out.splitlines() if " IG " in f" {line} " and "IG-" not in line)
    assert " 5 " in ig and "0.001" in ig
    assert "left out: [A] efficientnet_lite0/Occlusion" in out


def test_fail_slower(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(GPU), "--fail-slower", "10"]) == 0
    assert main(["compare", str(GPU), str(CPU), "--fail-slower", "10"]) == 1
    assert "slower than [A] by more than 10%: efficientnet_lite0/IG [B]" in capsys.readouterr().err


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
    rows = [line for line in capsys.readouterr().out.splitlines() if "IG-SG" in line]
    assert rows and rows[0].split()[-1] == "0", rows
