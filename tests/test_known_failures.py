"""Known sanity failures as data: a failure accepted with its reason runs as a strict xfail, and the run fails
when the cause is gone (the entry must then be removed); the file is reviewed like a baseline."""

from __future__ import annotations

import json

import pytest

from tests.test_bad_input import _assert_one_line_error

BLIND_METHOD = '''
import os

from captum.attr import IntegratedGradients

from xai_eval.explain.methods import MethodSpec, register_method


class InputAsMap:
    """NOT an attribution method: the input itself, blind to the model (fails randomisation by construction)."""

    def __init__(self, model):
        self.model = model

    def attribute(self, inputs, target=None, **kwargs):
        return inputs.detach().clone()


register_method(MethodSpec(
    name="Blind", captum_class=IntegratedGradients if os.environ.get("XAI_TEST_FIXED") else InputAsMap,
    attribute_kwargs={"quick": {}, "paper": {}},
), replace=True)
'''
SUITE = """
def test_randomization(xai_case, xai_sanity):
    xai_sanity(xai_case, "randomization")
"""


@pytest.fixture
def blind_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    gate_project.makeconftest(BLIND_METHOD)
    gate_project.makepyfile(test_gate=SUITE)
    return gate_project


def test_an_accepted_failure_is_a_strict_xfail_until_its_cause_is_gone(blind_project: pytest.Pytester,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("--xai-method", "Blind", "-rxX")
    failing = blind_project.runpytest_subprocess(*args)
    failing.assert_outcomes(failed=2)
    failing.stdout.fnmatch_lines(["*tinynet.build-Blind-a: after randomising the last block*; if this failure is known "
                                  "and accepted, record it with: pytest --xai-method Blind 'test_gate.py::test_randomization"
                                  "?tinynet.build-Blind-a?' --xai-accept-failures 'why it is accepted'*"])
    accepted = blind_project.runpytest_subprocess(*args, "--xai-accept-failures", "the input is not an explanation (a test)")
    accepted.assert_outcomes(xfailed=2)
    accepted.stdout.fnmatch_lines(["*known failures written to *known_failures.json: 2 new (the input is not an "
                                   "explanation (a test)); review and commit it*"])
    data = json.loads((blind_project.path / "known_failures.json").read_text())
    assert data["schema_version"] == 1 and [e["image"] for e in data["known_failures"]] == ["a", "b"]
    assert {e["check"] for e in data["known_failures"]} == {"randomization"}
    again = blind_project.runpytest_subprocess(*args)
    again.assert_outcomes(xfailed=2)  # reviewed and committed: the known failure no longer fails the run
    monkeypatch.setenv("XAI_TEST_FIXED", "1")  # the cause removed: the method is an explanation again
    fixed = blind_project.runpytest_subprocess(*args)
    fixed.assert_outcomes(failed=2)
    fixed.stdout.fnmatch_lines(["*XPASS(strict)*known failure (*known_failures.json): the input is not an explanation "
                                "(a test); if it passes, remove its entry*"])


def test_guided_backprops_randomisation_failure_is_a_shipped_known_failure() -> None:
    from xai_eval.records.keys import CaseKey
    from xai_eval.stores.known_failures import KnownFailures

    known = KnownFailures.load(__import__("pathlib").Path("/nonexistent/known_failures.json"))
    reason, where = known.reason(CaseKey("paper", "any.model", "GuidedBackprop", "x"), "randomization")
    assert "Adebayo et al. 2018" in reason and where == "xai-eval's shipped known failures"
    assert known.reason(CaseKey("quick", "m", "IG", "x"), "randomization") == ("", "")
    assert known.reason(CaseKey("quick", "m", "GuidedBackprop", "x"), "completeness") == ("", "")


@pytest.mark.parametrize(("text", "fragment"), [
    ("{", "not valid JSON"),
    ('{"schema_version": 2, "known_failures": []}', "not a schema_version 1 known-failures file"),
    ('{"schema_version": 1, "known_failures": [{"profile": "quick"}]}', "known_failures[0]: must be an object with"),
    ('{"schema_version": 1, "known_failures": [{"profile": "quick", "model": "m", "method": "IG", "image": "a", '
     '"check": "completeness", "reason": ""}]}', "every field must be a non-empty string"),
])
def test_a_malformed_known_failures_file_is_one_line(blind_project: pytest.Pytester, text: str, fragment: str) -> None:
    (blind_project.path / "known_failures.json").write_text(text)
    result = blind_project.runpytest("--xai-method", "IG")
    assert result.ret == pytest.ExitCode.USAGE_ERROR or result.ret != 0
    _assert_one_line_error(result, fragment)
