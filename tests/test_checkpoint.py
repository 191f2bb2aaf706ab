"""A recording killed on the way loses nothing: the committed files are as they were (and readable), and the
same command run again records only what is missing, giving the files one uninterrupted run gives."""

from __future__ import annotations

import shutil

import pytest

SUITES = """
def test_max_sensitivity(xai_case, xai_baselines):
    xai_baselines.check(xai_case, xai_case.max_sensitivity())


def test_snapshot(xai_case, xai_snapshots):
    xai_snapshots.check_snapshot(xai_case)
"""
KILLER = """
import os

_finished = 0


def pytest_runtest_logreport(report):
    # NOT part of any measurement: kills the run (no cleanup, as a CI time limit would) after N finished tests
    global _finished
    if report.when == "call" and os.environ.get("XAI_TEST_KILL_AFTER"):
        _finished += 1
        if _finished == int(os.environ["XAI_TEST_KILL_AFTER"]):
            os._exit(9)
"""
FILES = ("baselines.json", "snapshots/quick.json", "snapshots/quick.npz")


def test_a_killed_calibration_resumes_where_it_stopped(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    gate_project.makepyfile(test_gate=SUITES)
    gate_project.makeconftest(KILLER)
    record = ("--xai-calibrate", "5", "-p", "no:cacheprovider")
    gate_project.runpytest_subprocess("--xai-update-baselines").assert_outcomes(passed=8)  # what is committed
    committed = {name: (gate_project.path / name).read_bytes() for name in FILES}
    one_shot = gate_project.path / "one_shot"
    one_shot.mkdir()
    for name in FILES:
        (one_shot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(gate_project.path / name, one_shot / name)
    gate_project.runpytest_subprocess(*record, "--xai-baselines", "one_shot/baselines.json").assert_outcomes(passed=8)

    monkeypatch.setenv("XAI_TEST_KILL_AFTER", "3")
    killed = gate_project.runpytest_subprocess(*record)
    assert killed.ret == 9, killed.stdout.str()[-2000:]
    assert {name: (gate_project.path / name).read_bytes() for name in FILES} == committed  # nothing half-written
    checkpoint = gate_project.path / ".xai-eval-recording.json"
    assert checkpoint.is_file()

    monkeypatch.delenv("XAI_TEST_KILL_AFTER")
    resumed = gate_project.runpytest_subprocess(*record)
    outcomes = resumed.parseoutcomes()
    assert outcomes["passed"] + outcomes["deselected"] == 8 and 2 <= outcomes["deselected"] <= 3, outcomes
    resumed.stdout.fnmatch_lines(["*resuming an interrupted recording: * finished test(s) kept*"])
    for name in FILES:  # the files one uninterrupted calibration writes, byte for byte
        assert (gate_project.path / name).read_bytes() == (one_shot / name).read_bytes(), name
    assert not checkpoint.exists()
    gate_project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=8)


@pytest.mark.parametrize(("killed_with", "resumed_with"), [
    ((), ("--xai-seed", "4")),
    # a checkpoint's accepted sanity failures must not be resumed by a command that would not write them
    (("--xai-accept-failures", "reviewed"), ()),
], ids=["seed", "accept-failures"])
def test_a_checkpoint_of_other_settings_is_not_resumed(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                       killed_with: tuple[str, ...], resumed_with: tuple[str, ...]) -> None:
    gate_project.makepyfile(test_gate=SUITES)
    gate_project.makeconftest(KILLER)
    monkeypatch.setenv("XAI_TEST_KILL_AFTER", "2")
    assert gate_project.runpytest_subprocess("--xai-update-baselines", *killed_with).ret == 9
    monkeypatch.delenv("XAI_TEST_KILL_AFTER")
    other = gate_project.runpytest_subprocess("--xai-update-baselines", *resumed_with)
    other.assert_outcomes(passed=8)
    other.stdout.fnmatch_lines(["*made under other settings, not resumed; recording afresh*"])
    assert not (gate_project.path / ".xai-eval-recording.json").exists()


def test_a_failed_test_is_not_kept_a_resumed_recording_fails_as_the_first_would(gate_project: pytest.Pytester,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    gate_project.makepyfile(test_gate=SUITES)
    gate_project.makeconftest(KILLER)
    with open(gate_project.path / "pyproject.toml", "a") as toml:  # IG's max sensitivity is over the team's bar
        toml.write("\n[tool.xai_eval.thresholds]\nIG = 1e-9\n")
    monkeypatch.setenv("XAI_TEST_KILL_AFTER", "3")
    assert gate_project.runpytest_subprocess("--xai-update-baselines").ret == 9
    monkeypatch.delenv("XAI_TEST_KILL_AFTER")
    resumed = gate_project.runpytest_subprocess("--xai-update-baselines")
    assert resumed.ret == 1
    outcomes = resumed.parseoutcomes()
    assert outcomes["failed"] == 2, outcomes  # IG on both photos, including the one the killed run had finished
    resumed.stdout.fnmatch_lines(["*above the threshold 1e-09*"])
