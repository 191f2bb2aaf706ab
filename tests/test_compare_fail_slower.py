"""`xai-eval compare --fail-slower`: judged on the first report's device kind only, and on enough rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import CPU, GPU, modified, one_line_error, set_rounds
from tests.test_compare_guard import report
from xai_eval.report.cli import main

MORE_ROUNDS = "time more with: pytest suites/test_runtime.py --xai-benchmark-rounds 20 --benchmark-json=FILE"


def faster(factor: float):
    """A change making every median ``factor`` times shorter."""
    def change(data: dict[str, Any]) -> None:
        for bench in data["benchmarks"]:
            bench["stats"]["median"] /= factor

    return change


def test_fail_slower_on_the_same_device_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slow = report(tmp_path, "cpu_slow.json", CPU, set_rounds(20))
    fast = report(tmp_path, "cpu_fast.json", CPU, set_rounds(20), faster(5))
    assert main(["compare", str(slow), str(fast), "--fail-slower", "10"]) == 0
    assert main(["compare", str(fast), str(slow), "--fail-slower", "10"]) == 1
    assert "slower than [A] by more than 10%: efficientnet_lite0/IG [B]" in capsys.readouterr().err


def test_fail_slower_leaves_other_device_kinds_out_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fast = report(tmp_path, "cpu_fast.json", CPU, set_rounds(20), faster(10))
    cpu = report(tmp_path, "cpu.json", CPU, set_rounds(20))
    gpu = report(tmp_path, "gpu.json", GPU, set_rounds(20))  # 5 times faster than cpu.json, but a GPU
    assert main(["compare", str(cpu), str(gpu), str(fast), "--fail-slower", "10"]) == 0
    err = capsys.readouterr().err
    assert err == "--fail-slower: not judged: [B] runs on cuda, [A] on cpu\n"
    assert main(["compare", str(fast), str(gpu), str(cpu), "--fail-slower", "10"]) == 1  # [C] is judged
    err = capsys.readouterr().err
    assert "not judged: [B] runs on cuda" in err and "efficientnet_lite0/IG [C]" in err and "[B] " not in err.split("\n\n")[1]


def test_fail_slower_with_only_other_device_kinds_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cpu, gpu = report(tmp_path, "cpu.json", CPU, set_rounds(20)), report(tmp_path, "gpu.json", GPU, set_rounds(20))
    assert main(["compare", str(gpu), str(cpu), "--fail-slower", "10"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_error(
        captured.err,
        "--fail-slower: nothing to judge: [B] runs on cpu, [A] on cuda; a slowdown is judged only on the same device kind",
    )


def test_fail_slower_with_too_few_rounds_is_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(CPU), "--fail-slower", "10"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "xai-eval: error: --fail-slower: too few timed rounds to judge (fewer than 5):"
        f" [A] {CPU}: all 8 compared cases have 3 rounds; [B] {CPU}: all 8 compared cases have 3 rounds; {MORE_ROUNDS}\n"
    )


def test_fail_slower_names_the_short_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def few(data: dict[str, Any]) -> None:
        set_rounds(20)(data)
        data["benchmarks"][1]["stats"]["rounds"] = 4
        del data["benchmarks"][2]["stats"]["rounds"]

    reference = modified(CPU, tmp_path / "cpu_20_rounds.json", set_rounds(20))
    short = modified(CPU, tmp_path / "cpu_few_rounds.json", few)
    assert main(["compare", str(reference), str(short), "--fail-slower", "10"]) == 2
    one_line_error(
        capsys.readouterr().err,
        f"(fewer than 5): [B] {short}: efficientnet_lite0/IG-SG (4), efficientnet_lite0/IG-VG (?); {MORE_ROUNDS}",
    )
    assert main(["compare", str(reference), str(short)]) == 0  # without --fail-slower: the table, no judgement


def test_fail_slower_counts_only_compared_cases_and_judged_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def occlusion_short(data: dict[str, Any]) -> None:
        set_rounds(5)(data)
        next(b for b in data["benchmarks"] if "Occlusion" in b["name"])["stats"]["rounds"] = 1

    cpu = report(tmp_path, "cpu_5_rounds.json", CPU, occlusion_short)
    gpu = report(tmp_path, "gpu_3_rounds.json", GPU)  # has no Occlusion case, and is not judged against a CPU
    fast = report(tmp_path, "cpu_fast_5_rounds.json", CPU, set_rounds(5), faster(2),
                  lambda d: d["benchmarks"].pop(4))  # drops Occlusion, so it is compared nowhere
    assert main(["compare", str(cpu), str(gpu), str(fast), "--fail-slower", "10"]) == 0
    assert main(["compare", str(fast), str(gpu), str(cpu), "--fail-slower", "10"]) == 1
    assert "slower than [A] by more than 10%" in capsys.readouterr().err
