"""`xai-eval compare` compares like with like: setups that differ need --allow-different, and --fail-slower enough rounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import CPU, GPU, modified, one_line_error, set_rounds
from xai_eval.report.cli import main

MORE_ROUNDS = "time more with: pytest suites/test_runtime.py --xai-benchmark-rounds 20 --benchmark-json=FILE"


def _machine(**values: Any):
    return lambda data: data["machine_info"].update(values)


def test_cpu_vs_gpu_needs_the_flag_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(GPU)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "xai-eval: error: compare: [A] and [B] differ in device (cpu vs cuda); pass --allow-different to compare them anyway\n"
    )


def test_every_difference_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(data: dict[str, Any]) -> None:
        data["machine_info"].update(torch_num_threads=16, xai_seed=7)
        data["xai_eval"]["profile"] = "full"
        data["benchmarks"][0]["extra_info"]["xai_eval"]["model"] = "resnet18"

    data = modified(CPU, tmp_path / "seed3.json", _machine(xai_seed=3))
    other = modified(GPU, tmp_path / "synthetic_gpu_other.json", change)
    assert main(["compare", str(data), str(other)]) == 2
    one_line_error(
        capsys.readouterr().err,
        "compare: [A] and [B] differ in profile (quick vs full), device (cpu vs cuda),"
        " models (efficientnet_lite0 vs efficientnet_lite0 + resnet18), threads (2 vs 16), seed (3 vs 7);"
        " pass --allow-different to compare them anyway",
    )


def test_allow_different_lists_the_differences_in_the_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    threads = modified(CPU, tmp_path / "threads16.json", _machine(torch_num_threads=16))
    assert main(["compare", str(CPU), str(GPU), str(threads), "--allow-different"]) == 0
    out = capsys.readouterr().out
    header, table = out.split("\n\n", 1)
    assert header.splitlines()[3:] == [
        "--allow-different: [A] and [B] differ in device (cpu vs cuda)",
        "--allow-different: [A] and [C] differ in threads (2 vs 16)",
    ]
    assert "speed-up [C]" in table


def test_a_missing_seed_is_unknown_not_different(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = modified(CPU, tmp_path / "seeded.json", _machine(xai_seed=5))
    assert main(["compare", str(CPU), str(seeded)]) == 0  # run_cpu.json predates xai_seed
    assert "--allow-different" not in capsys.readouterr().out
    other = modified(CPU, tmp_path / "other_seed.json", _machine(xai_seed=6))
    assert main(["compare", str(seeded), str(other)]) == 2
    one_line_error(capsys.readouterr().err, "differ in seed (5 vs 6); pass --allow-different")


def test_same_setup_needs_no_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(CPU), str(CPU)]) == 0
    assert "--allow-different" not in capsys.readouterr().out


def test_fail_slower_with_too_few_rounds_is_inconclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(GPU), str(CPU), "--fail-slower", "10", "--allow-different"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "xai-eval: error: --fail-slower: too few timed rounds to judge (fewer than 5):"
        f" [A] {GPU}: all 7 compared cases have 3 rounds; [B] {CPU}: all 7 compared cases have 3 rounds; {MORE_ROUNDS}\n"
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


def test_fail_slower_only_counts_compared_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def occlusion_short(data: dict[str, Any]) -> None:
        set_rounds(5)(data)
        next(b for b in data["benchmarks"] if "Occlusion" in b["name"])["stats"]["rounds"] = 1

    cpu = modified(CPU, tmp_path / "cpu_5_rounds.json", occlusion_short)
    gpu = modified(GPU, tmp_path / "synthetic_gpu_5_rounds.json", set_rounds(5))  # has no Occlusion case
    assert main(["compare", str(cpu), str(gpu), "--fail-slower", "10", "--allow-different"]) == 0
    assert main(["compare", str(gpu), str(cpu), "--fail-slower", "10", "--allow-different"]) == 1
    assert "slower than [A] by more than 10%" in capsys.readouterr().err
