"""`xai-eval compare` compares hardware and refuses different work: different machines are columns, a
different profile, seed, model, method, photo or profile setting is one line (unless --allow-different)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import CPU, GPU, METHODS, modified, one_line_error
from xai_eval.report.cli import main

WORK: dict[str, Any] = {
    "profile_settings": {"image_size": 224, "n_perturb_samples": 10, "perturb_radius": 0.02, "max_examples_per_batch": 5,
                         "base": "quick", "methods": {}},
    "models": ["efficientnet_lite0"],
    "methods": METHODS,
    "photos": {"coffee": "0123456789abcdef", "cat": "fedcba9876543210"},
}
"""What a report of today records about its work (the committed fixtures predate it)."""
CODE: dict[str, Any] = {"xai_eval": "0.1.0", "commit": "0123456789ab", "digest": "fedcba9876543210"}
"""The code identity a report of today records (made up for the fixtures: one commit for every run)."""


def with_work(data: dict[str, Any], version: str | None = "0.1.0") -> dict[str, Any]:
    """``data`` as a report of today writes it: its work (every method requested), the xai-eval version and
    the code that computed it (unless ``version`` is None: a report from before both were recorded)."""
    data["xai_eval"]["work"] = copy.deepcopy(WORK)
    if version is not None:
        data["xai_eval"]["versions"]["xai_eval"] = version
        data["xai_eval"].setdefault("run", {})["code"] = CODE | {"xai_eval": version}
    return data


def report(tmp_path: Path, name: str, source: Path = CPU, *changes: Callable[[dict[str, Any]], object]) -> Path:
    """A report of today made from ``source``, with ``changes`` applied after."""
    def change(data: dict[str, Any]) -> None:
        with_work(data)
        for each in changes:
            each(data)

    return modified(source, tmp_path / name, change)


def markdown_rows(out: str) -> list[dict[str, str]]:
    """The compare table printed in ``out``, as one dict per row keyed by the column headings."""
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    return [dict(zip(cells[0], row, strict=True)) for row in cells[1:]]


def row_of(out: str, method: str) -> dict[str, str]:
    return next(row for row in markdown_rows(out) if row["method"] == method)


def test_cpu_and_gpu_of_the_same_work_are_compared_without_a_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cpu, gpu = report(tmp_path, "cpu.json"), report(tmp_path, "gpu.json", GPU)
    assert main(["compare", str(cpu), str(gpu)]) == 0
    out = capsys.readouterr().out
    assert "--allow-different" not in out
    ig = row_of(out, "IG")
    assert list(ig) == ["model", "method", "[A] AMD EPYC ×2", "[B] NVIDIA H100 80GB HBM3", "[B] vs [A]", "max sens. Δ"]
    assert ig["[A] AMD EPYC ×2"] == "1.71 s" and ig["[B] NVIDIA H100 80GB HBM3"] == "343 ms"
    assert ig["[B] vs [A]"] == "5.0× faster"
    assert "left out: [A] efficientnet_lite0/Occlusion" in out  # requested everywhere, timed only on [A]


def test_a_third_run_adds_a_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def one_thread(data: dict[str, Any]) -> None:
        data["machine_info"]["torch_num_threads"] = 1
        for bench in data["benchmarks"]:
            bench["stats"]["median"] *= 1.8

    cpu, gpu = report(tmp_path, "cpu.json"), report(tmp_path, "gpu.json", GPU)
    single = report(tmp_path, "cpu_1_thread.json", CPU, one_thread)
    assert main(["compare", str(gpu), str(cpu), str(single)]) == 0
    out = capsys.readouterr().out
    assert f"[C] {single}: AMD EPYC ×2, no GPU, torch 2.14.1+cu130, 1 thread, device cpu, xai-eval 0.1.0 (profile quick)\n" in out
    ig = row_of(out, "IG")
    assert list(ig)[2:7] == [
        "[A] NVIDIA H100 80GB HBM3, 2 threads", "[B] AMD EPYC ×2, 2 threads", "[B] vs [A]",
        "[C] AMD EPYC ×2, 1 thread", "[C] vs [A]",
    ]
    assert (ig["[B] vs [A]"], ig["[C] vs [A]"]) == ("5.0× slower", "9.0× slower")


WORK_CHANGES: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "profile": (lambda d: d["xai_eval"].update(profile="paper"), "profile (quick vs paper)"),
    "seed": (lambda d: d["machine_info"].update(xai_seed=7), "seed (3 vs 7)"),
    "method": (lambda d: d["xai_eval"]["work"].update(methods=METHODS[:-1]), "methods (GuidedGradCAM only in [A])"),
    "model": (lambda d: d["xai_eval"]["work"]["models"].append("resnet18"), "models (resnet18 only in [B])"),
    "photo": (lambda d: d["xai_eval"]["work"]["photos"].update(cat="0000000000000000"),
              "photos (cat fedcba9876543210 vs 0000000000000000)"),
    "setting": (lambda d: d["xai_eval"]["work"]["profile_settings"]["methods"].update(IG={"n_steps": 64}),
                "settings (methods.IG.n_steps only in [B])"),
}


@pytest.mark.parametrize("name", WORK_CHANGES)
def test_different_work_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    change, named = WORK_CHANGES[name]
    seed3 = lambda d: d["machine_info"].update(xai_seed=3)  # noqa: E731
    first = report(tmp_path, "first.json", CPU, seed3)
    other = report(tmp_path, "other.json", GPU, seed3, change)  # on other hardware too: only the work is named
    assert main(["compare", str(first), str(other)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_error(captured.err, f"compare: [A] and [B] differ in {named}; pass --allow-different to compare them anyway")


def test_every_difference_of_work_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(data: dict[str, Any]) -> None:
        data["machine_info"].update(torch_num_threads=16, xai_seed=7)
        data["xai_eval"]["profile"] = "full"
        data["xai_eval"]["work"]["profile_settings"]["n_perturb_samples"] = 20

    first = report(tmp_path, "first.json", CPU, lambda d: d["machine_info"].update(xai_seed=3))
    assert main(["compare", str(first), str(report(tmp_path, "other.json", GPU, change))]) == 2
    one_line_error(
        capsys.readouterr().err,
        "compare: [A] and [B] differ in profile (quick vs full), seed (3 vs 7), settings (n_perturb_samples 10 vs 20);"
        " pass --allow-different",
    )


def test_allow_different_lists_the_differences_and_compares_no_gated_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cpu = report(tmp_path, "cpu.json", CPU, lambda d: d["machine_info"].update(xai_seed=0))
    seeded = report(tmp_path, "seed7.json", CPU, lambda d: d["machine_info"].update(xai_seed=7))
    assert main(["compare", str(cpu), str(GPU), str(seeded), "--allow-different"]) == 0
    out = capsys.readouterr().out
    header, table = out.split("\n\n", 1)
    assert header.splitlines()[3:] == [
        "--allow-different: [A] and [B] differ in methods (Occlusion only in [A])",
        "--allow-different: [A] and [C] differ in seed (0 vs 7)",
    ]
    assert row_of(table, "IG")["max sens. Δ"] == "0.001 n/c"
    assert (
        "n/c: not comparable as hardware drift: the code that computed [B] is not recorded (a report from before runs"
        " recorded it; [A] xai-eval 0.1.0, [B] xai-eval ?, [C] xai-eval 0.1.0); the runs' work differs\n"
    ) in table


def test_a_missing_seed_is_unknown_not_different(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seeded = modified(CPU, tmp_path / "seeded.json", lambda d: d["machine_info"].update(xai_seed=5))
    assert main(["compare", str(CPU), str(seeded)]) == 0  # run_cpu.json predates xai_seed
    assert "--allow-different" not in capsys.readouterr().out
    other = modified(CPU, tmp_path / "other_seed.json", lambda d: d["machine_info"].update(xai_seed=6))
    assert main(["compare", str(seeded), str(other)]) == 2
    one_line_error(capsys.readouterr().err, "differ in seed (5 vs 6); pass --allow-different")


def test_an_older_report_is_compared_on_what_its_cases_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a recorded work, models and methods come from the timed cases; photos and settings are unknown."""
    today = report(tmp_path, "today.json", CPU, lambda d: d["xai_eval"]["work"]["photos"].update(dog="0" * 16))
    assert main(["compare", str(CPU), str(today)]) == 0
    assert main(["compare", str(CPU), str(GPU)]) == 2  # GPU's cases lack Occlusion
    one_line_error(capsys.readouterr().err, "[A] and [B] differ in methods (Occlusion only in [A])")


MALFORMED_WORK: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "versions list": (lambda d: d["xai_eval"].update(versions=["0.1.0"]), "'xai_eval.versions' must be an object, not a list"),
    "version number": (lambda d: d["xai_eval"]["versions"].update(xai_eval=1),
                       "'xai_eval.versions.xai_eval' must be a non-empty string, not 1"),
    "work list": (lambda d: d["xai_eval"].update(work=[]), "'xai_eval.work' must be an object, not a list"),
    "settings missing": (lambda d: d["xai_eval"]["work"].pop("profile_settings"), "'xai_eval.work.profile_settings' is missing"),
    "models string": (lambda d: d["xai_eval"]["work"].update(models="resnet18"), "'xai_eval.work.models' must be a list of names"),
    "methods missing": (lambda d: d["xai_eval"]["work"].pop("methods"), "'xai_eval.work.methods' is missing"),
    "method number": (lambda d: d["xai_eval"]["work"]["methods"].__setitem__(1, 3),
                      "'xai_eval.work.methods[1]' must be a non-empty string, not 3"),
    "photos list": (lambda d: d["xai_eval"]["work"].update(photos=["cat"]), "'xai_eval.work.photos' must be an object, not a list"),
    "photo digest null": (lambda d: d["xai_eval"]["work"]["photos"].update(cat=None),
                          "'xai_eval.work.photos.cat' must be a non-empty string, not null"),
}


@pytest.mark.parametrize("name", MALFORMED_WORK)
def test_a_malformed_version_or_work_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    change, message = MALFORMED_WORK[name]
    bad = report(tmp_path, "bad.json", CPU, change)
    assert main(["compare", str(CPU), str(bad)]) == 2
    one_line_error(capsys.readouterr().err, f"{bad}: {message}; re-create the report with:")
