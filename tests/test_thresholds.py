"""The team's own quality bar, ``[tool.xai_eval.thresholds]``: the lookup, a case over it, and every bad value."""

from __future__ import annotations

import json
import textwrap

import pytest

from xai_eval.errors import XaiEvalError
from xai_eval.config.thresholds import parse_thresholds
from xai_eval.records.keys import CaseKey

from .test_bad_input import _assert_one_line_error

BASE = textwrap.dedent("""
    [tool.xai_eval]
    models = ["tinynet:build"]
    methods = ["IG", "LRP"]
    images = "images"
    baselines = "baselines.json"
    """)


def _parse(table: dict) -> object:
    return parse_thresholds(table, profiles=("quick", "paper", "nightly"), methods=("IG", "LRP"),
                            models=("efficientnet_lite0",), config_file="pyproject.toml")


def test_the_most_specific_threshold_wins() -> None:
    thresholds = _parse({"IG": 1.0, "*": 5.0, "paper": {"IG": 0.9, "efficientnet_lite0": {"IG": 0.8, "*": 3.0}}})
    def limit(profile: str, model: str, method: str, base: str = "") -> float | None:
        found = thresholds.of(CaseKey(profile, model, method, "img"), base)
        return None if found is None else found.limit

    assert limit("quick", "efficientnet_lite0", "IG") == 1.0
    assert limit("quick", "efficientnet_lite0", "LRP") == 5.0
    assert limit("paper", "other.model", "IG") == 0.9
    assert limit("paper", "efficientnet_lite0", "IG") == 0.8
    assert limit("paper", "efficientnet_lite0", "LRP") == 3.0
    assert limit("nightly", "efficientnet_lite0", "IG", base="paper") == 0.8, "a user profile falls back to its base"
    assert thresholds.of(CaseKey("paper", "efficientnet_lite0", "IG", "x")).where == (
        'pyproject.toml [tool.xai_eval.thresholds.paper.efficientnet_lite0] IG')
    assert _parse({}).of(CaseKey("quick", "m", "IG", "a")) is None


def test_a_case_over_its_threshold_fails_with_both_numbers_whatever_its_baseline(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest("--xai-update-baselines", "--xai-results", "r.json").assert_outcomes(passed=4)
    values = {(c["method"], c["image"]): c["max_sensitivity"]["value"] for c in json.loads((gate_project.path / "r.json").read_text())["cases"]}
    limit = values["LRP", "a"] * 0.9
    gate_project.makepyprojecttoml(BASE + f"\n[tool.xai_eval.thresholds]\nLRP = {limit!r}\n")
    result = gate_project.runpytest()
    result.assert_outcomes(passed=3 if values["LRP", "b"] <= limit else 2, failed=1 if values["LRP", "b"] <= limit else 2)
    result.stdout.fnmatch_lines([
        f"*max sensitivity of tinynet.build-LRP-a is {values['LRP', 'a']:.6g}, above the threshold {limit:g} of "
        "*pyproject.toml [[]tool.xai_eval.thresholds[]] LRP (whatever its baseline)*",
    ])
    table = [line for line in result.stdout.lines if "tinynet.build  LRP" in line and "  a  " in line]
    assert table and f"{limit:.4f}" in table[0] and "fail" in table[0], result.stdout.str()
    updating = gate_project.runpytest("--xai-update-baselines", "--xai-results", "u.json")
    assert updating.ret == pytest.ExitCode.TESTS_FAILED, "recording new baselines does not lift the team's bar"
    statuses = {(c["method"], c["image"]): c["max_sensitivity"]["status"]
                for c in json.loads((gate_project.path / "u.json").read_text())["cases"]}
    assert statuses["LRP", "a"] == statuses["IG", "a"] == "updated", "recorded (as one job and xai-eval record do)"
    (gate_project.path / "baselines.json").unlink()
    missing = gate_project.runpytest("-k", "LRP-a")
    missing.assert_outcomes(failed=1, deselected=3)
    missing.stdout.fnmatch_lines(["*above the threshold*; and *has no entries for profile 'quick'; create them with*"])


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ("IG = -1", "[tool.xai_eval.thresholds] IG: a threshold must be a finite number > 0"),
        ("IG = 0", "[tool.xai_eval.thresholds] IG: a threshold must be a finite number > 0"),
        ('IG = "high"', "[tool.xai_eval.thresholds] IG: a threshold must be a finite number > 0 (the largest max sensitivity accepted), got 'high'"),
        ("IG = nan", "[tool.xai_eval.thresholds] IG: a threshold must be a finite number > 0"),
        ("IG = true", "[tool.xai_eval.thresholds] IG: a threshold must be a finite number > 0"),
        ("IGG = 1.0", "[tool.xai_eval.thresholds] IGG: unknown method; use one of"),
        ("[tool.xai_eval.thresholds.quik]\nIG = 1.0", "[tool.xai_eval.thresholds.quik]: 'quik' is not a profile"),
        ("[tool.xai_eval.thresholds.quick]\nIGG = 1.0", "[tool.xai_eval.thresholds.quick] IGG: unknown method"),
        ('[tool.xai_eval.thresholds.quick.resnet]\nIG = 1.0', "[tool.xai_eval.thresholds.quick.resnet]: 'resnet' is not a model"),
        ('[tool.xai_eval.thresholds.quick."tinynet.build"]\nIG = -2', '[tool.xai_eval.thresholds.quick."tinynet.build"] IG: a threshold must be'),
    ],
)
def test_bad_thresholds_are_one_line_errors(gate_project: pytest.Pytester, table: str, fragment: str) -> None:
    if not table.startswith("["):
        table = "[tool.xai_eval.thresholds]\n" + table
    gate_project.makepyprojecttoml(BASE + "\n" + table + "\n")
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_a_method_name_used_as_a_table_is_not_a_profile() -> None:
    with pytest.raises(XaiEvalError, match=r"\[tool.xai_eval.thresholds.IG\]: 'IG' is not a profile"):
        _parse({"IG": {"IG": 1.0}})
