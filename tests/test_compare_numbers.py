"""The compare table's numbers: readable times and ratios, and the largest difference of each gated number,
flagged above the numeric floor only where the runs computed the same numerics."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import CPU, GPU
from tests.test_compare_guard import report, row_of
from xai_eval.records.floors import SENSITIVITY_ATOL, SENSITIVITY_RTOL
from xai_eval.report.cli import main
from xai_eval.report.compare import ratio, seconds


@pytest.mark.parametrize(
    ("value", "reference", "text"),
    [(7.49, 0.0193, "388× slower"), (0.0193, 7.49, "388× faster"), (1.3, 1.0, "1.3× slower"), (1.0, 5.0, "5.0× faster"),
     (1.02, 1.0, "1.0× (same)")],
)
def test_ratio_reads_at_a_glance(value: float, reference: float, text: str) -> None:
    assert ratio(value, reference) == text


@pytest.mark.parametrize(("value", "text"), [(7.4896, "7.49 s"), (0.0193, "19.3 ms"), (0.000851, "851 µs")])
def test_seconds_in_a_readable_unit(value: float, text: str) -> None:
    assert seconds(value) == text


def shift_sensitivity(by: Callable[[float], float]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        for bench in data["benchmarks"]:
            values = bench["extra_info"]["xai_eval"]["max_sensitivity"]
            values.update({photo: by(value) for photo, value in values.items()})

    return change


def compare(tmp_path: Path, capsys: pytest.CaptureFixture[str], *changes: Callable[[dict[str, Any]], object]) -> str:
    """Compare run_cpu.json (as a report of today) with a copy of it moved by ``changes``; the output."""
    first, other = report(tmp_path, "first.json"), report(tmp_path, "other.json", CPU, *changes)
    assert main(["compare", str(first), str(other)]) == 0
    return capsys.readouterr().out


def test_a_difference_within_the_floor_is_shown_unflagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = compare(tmp_path, capsys, shift_sensitivity(lambda v: v * (1 + SENSITIVITY_RTOL / 2)))
    assert row_of(out, "IG")["max sens. Δ"] == f"{0.9584038257598877 * SENSITIVITY_RTOL / 2:.2g}"
    assert "above floor" not in out and "n/c" not in out


def test_a_difference_above_the_floor_is_flagged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def ig_cat_moves(data: dict[str, Any]) -> None:
        values = data["benchmarks"][0]["extra_info"]["xai_eval"]["max_sensitivity"]
        values["cat"] += 2 * (SENSITIVITY_ATOL + SENSITIVITY_RTOL * values["cat"])

    out = compare(tmp_path, capsys, ig_cat_moves)
    assert row_of(out, "IG")["max sens. Δ"].endswith(" above floor")
    assert row_of(out, "IG-SG")["max sens. Δ"] == "0"
    assert "above floor: the runs' numbers differ by more than float rounding should make them" in out


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ({"commit": "9876543210fe"}, "[B] xai-eval 0.1.0 at 9876543210fe, registry and settings fedcba9876543210"),
        ({"xai_eval": "0.2.0"}, "[B] xai-eval 0.2.0 at 0123456789ab, registry and settings fedcba9876543210"),
        ({"digest": "00000000000000ff"}, "[B] xai-eval 0.1.0 at 0123456789ab, registry and settings 00000000000000ff"),
    ],
    ids=["another commit", "another version", "another registry"],
)
def test_runs_of_different_code_are_labelled_different_code_not_hardware_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: dict[str, str], named: str
) -> None:
    """Two runs of the same work and the same version, from two commits: their difference is the code's."""
    out = compare(tmp_path, capsys, lambda d: d["xai_eval"]["run"]["code"].update(code), shift_sensitivity(lambda v: v + 0.1))
    assert row_of(out, "IG")["max sens. Δ"] == "0.1 different code"
    assert "above floor" not in out
    assert ("not judged: not comparable as hardware drift: different code ([A] xai-eval 0.1.0 at 0123456789ab, registry and"
            f" settings fedcba9876543210 vs {named})\n") in out
    assert "different code: the runs were computed by different code" in out


def test_runs_of_one_commit_and_a_wheel_of_the_same_version_and_registry_are_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run from an installed wheel records no commit: its version and registry digest decide."""
    out = compare(tmp_path, capsys, lambda d: d["xai_eval"]["run"]["code"].update(commit=None), shift_sensitivity(lambda v: v + 0.1))
    assert row_of(out, "IG")["max sens. Δ"] == "0.1 above floor"


@pytest.mark.parametrize("version", ["0.1.0", None])
def test_a_run_that_does_not_record_its_code_is_not_comparable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: str | None
) -> None:
    """Even with the same version string: older reports of one version were computed by different code."""
    def forget(data: dict[str, Any]) -> None:
        del data["xai_eval"]["run"]["code"]
        if version is None:
            del data["xai_eval"]["versions"]["xai_eval"]

    out = compare(tmp_path, capsys, forget, shift_sensitivity(lambda v: v + 0.1))
    assert row_of(out, "IG")["max sens. Δ"] == "0.1 n/c"
    assert "above floor" not in out and "different code" not in out
    assert ("n/c: not comparable as hardware drift: the code that computed [B] is not recorded (a report from before runs"
            f" recorded it; [A] xai-eval 0.1.0, [B] xai-eval {version or '?'})\n") in out


def test_a_number_not_recorded_in_every_run_is_left_blank(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = compare(tmp_path, capsys, lambda d: d["benchmarks"][0]["extra_info"]["xai_eval"].update(max_sensitivity={}))
    assert row_of(out, "IG")["max sens. Δ"] == "" and row_of(out, "LRP")["max sens. Δ"] == "0"
    assert "Δ blank: not recorded in every run" in out


def test_the_gpu_fixture_would_be_flagged_with_one_known_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The synthetic GPU report's values are 0.001 above the CPU's: flagged above the floor for every method
    with a photo whose value is under 0.001 / SENSITIVITY_RTOL, shown without a flag for the others."""
    import json

    cpu, gpu = report(tmp_path, "cpu.json"), report(tmp_path, "gpu.json", GPU)
    assert main(["compare", str(cpu), str(gpu)]) == 0
    out = capsys.readouterr().out
    smallest = {bench["extra_info"]["xai_eval"]["method"]: min(bench["extra_info"]["xai_eval"]["max_sensitivity"].values())
                for bench in json.loads(cpu.read_text())["benchmarks"]}
    shown = {bench["extra_info"]["xai_eval"]["method"] for bench in json.loads(gpu.read_text())["benchmarks"]}
    smallest = {method: value for method, value in smallest.items() if method in shown}
    flagged = {method for method in smallest if SENSITIVITY_ATOL + SENSITIVITY_RTOL * smallest[method] < 0.001}
    assert flagged and flagged != set(smallest), smallest  # the fixture shows both sides of the floor
    for method in smallest:
        assert row_of(out, method)["max sens. Δ"] == ("0.001 above floor" if method in flagged else "0.001"), method
