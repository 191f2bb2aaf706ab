"""Sanity properties: max sensitivity says an explanation is stable; these say it is an explanation.

Thresholds are the named constants in :mod:`xai_eval.measure.sanity`, each documented with its reason
and its measured distribution. A check that cannot be made informative for a case reports
*inconclusive*: a visible skip, counted in the summary, never a pass.
"""

from __future__ import annotations

import pytest

from xai_eval.measure import checks, sanity, verdicts


def test_well_formed(xai_case, xai_record):
    result = sanity.well_formed(xai_case.attribution(), xai_case.inputs, xai_case.reference_energy())
    xai_record("well_formed", ok=result.ok, detail=result.describe(), energy_ratio=result.energy_ratio)
    assert result.ok, f"{xai_case.id}: attribution is {result.describe()}"


@pytest.mark.xai_methods(*checks.COMPLETENESS_METHODS)
def test_completeness(xai_case, xai_record):
    result = checks.completeness(xai_case.explainer, xai_case.inputs, xai_case.target, xai_case.attribution())
    verdict = verdicts.completeness(result, xai_case.profile.base)
    xai_record("completeness", **checks.as_record(result), limit=verdict.limit)
    verdict.enforce(xai_case.id)


@pytest.mark.xai_methods("LRP")
def test_lrp_conservation(xai_case, xai_record):
    result = checks.lrp_conservation(xai_case.explainer, xai_case.inputs, xai_case.target, xai_case.attribution())
    xai_record("conservation", **checks.as_record(result), limit=sanity.CONSERVATION_RTOL)
    verdicts.conservation(result).enforce(xai_case.id)


def test_randomization(xai_case, xai_record, request):
    reason = sanity.KNOWN_RANDOMIZATION_FAILURES.get(xai_case.key.method)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
    result = checks.randomization(
        xai_case.explainer, xai_case.inputs, xai_case.target, xai_case.attribution(), xai_case.last_block,
        xai_case.seed("randomization"),
    )
    xai_record("randomization", **result.correlations, constant_stages=list(result.constant_stages))
    verdicts.randomization(result.correlations, result.constant_stages).enforce(xai_case.id)


@pytest.mark.xai_one_image
def test_deterministic(xai_case, xai_record):
    """Bit-identical on a fresh explainer: a property of the method, its draws and the device, not of the
    photo, so it runs on the manifest's first image (a third of the cost; see the cost table in docs/benchmarks.md)."""
    same = checks.is_deterministic(xai_case.explainer, xai_case.inputs, xai_case.target, xai_case.attribution())
    xai_record("deterministic", ok=same)
    assert same, f"{xai_case.id}: computing the same case twice (same draws, fresh explainer) gave different attributions"


def test_target_dependence(xai_case, xai_record):
    result = checks.target_dependence(xai_case.explainer, xai_case.inputs, xai_case.target, xai_case.attribution())
    xai_record("target_dependence", **checks.as_record(result), limit=sanity.TARGET_MIN_RELATIVE_CHANGE)
    verdicts.target_dependence(result).enforce(xai_case.id)
