"""The sanity checks of a case: each check's numbers and its verdict, as data.

Max sensitivity says an explanation is stable; these say it is an explanation: well-formed, complete (IG,
GradientSHAP), conservative (LRP), dependent on the model's weights and on the target class, deterministic.
The computations are :mod:`xai_eval.measure.checks`' and the verdicts :mod:`xai_eval.measure.verdicts`'
(thresholds in :mod:`xai_eval.measure.sanity`); here a case is run through them, once for the gate
(``suites/test_sanity.py``) and the Python API alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xai_eval.measure import checks, sanity, verdicts
from xai_eval.measure.verdicts import Verdict

if TYPE_CHECKING:
    from xai_eval.engine.cases import CaseRun

CHECKS = ("well_formed", "completeness", "conservation", "randomization", "deterministic", "target_dependence")
"""Every sanity check, in the order the summary shows them."""
ONE_IMAGE = frozenset({"deterministic"})
"""Checks of a property of the method, its draws and the device, not of the photo: run on the first image only."""


@dataclass(frozen=True)
class SanityOutcome:
    """One check of one case: the numbers it recorded, and its verdict."""

    check: str
    values: Mapping[str, Any]
    verdict: Verdict
    known_failure: str = field(default="")
    """Why this method is known to fail this check (the gate then expects the failure), or ''."""
    strict: bool = True
    """Whether a pass of a known failure fails the run (a project's entry: remove it) or not (a shipped one)."""


def outcome_word(outcome: SanityOutcome) -> str:
    """The outcome a results file records for a check, as the gate's test reports give it: ``passed``,
    ``failed``, ``xfailed`` (a known failure that failed), ``skipped`` (inconclusive). A known failure that passes
    is ``failed`` (its strict xfail fails the run, so that the entry is removed), or ``xpassed`` for a shipped
    known failure, which is not strict."""
    if outcome.verdict.outcome == "inconclusive":
        return "skipped"
    failed = outcome.verdict.outcome == "fail"
    if outcome.known_failure:
        return "xfailed" if failed else "failed" if outcome.strict else "xpassed"
    return "failed" if failed else "passed"


def applies(check: str, method: str) -> bool:
    """Whether ``check`` runs for ``method`` (completeness for the methods with a completeness axiom,
    conservation for LRP; every other check for every method)."""
    if check == "completeness":
        return method in checks.COMPLETENESS_METHODS
    if check == "conservation":
        return method == "LRP"
    return check in CHECKS


def _well_formed(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    result = sanity.well_formed(case.attribution(), case.inputs, case.reference_energy())
    verdict = Verdict("pass" if result.ok else "fail", f"attribution is {result.describe()}")
    return {"ok": result.ok, "detail": result.describe(), "energy_ratio": result.energy_ratio}, verdict


def _completeness(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    result = checks.completeness(case.explainer, case.inputs, case.target, case.attribution())
    verdict = verdicts.completeness(result, case.profile.base)
    return {**checks.as_record(result), "limit": verdict.limit}, verdict


def _conservation(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    result = checks.lrp_conservation(case.explainer, case.inputs, case.target, case.attribution())
    return {**checks.as_record(result), "limit": sanity.CONSERVATION_RTOL}, verdicts.conservation(result)


def _randomization(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    result = checks.randomization(case.explainer, case.inputs, case.target, case.attribution(), case.last_block,
                                  case.seed("randomization"))
    values = {**result.correlations, "constant_stages": list(result.constant_stages)}
    return values, verdicts.randomization(result.correlations, result.constant_stages)


def _deterministic(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    same = checks.is_deterministic(case.explainer, case.inputs, case.target, case.attribution())
    return {"ok": same}, Verdict("pass" if same else "fail", "computing the same case twice (same draws, fresh "
                                                             "explainer) gave different attributions")


def _target_dependence(case: CaseRun) -> tuple[dict[str, Any], Verdict]:
    result = checks.target_dependence(case.explainer, case.inputs, case.target, case.attribution())
    return {**checks.as_record(result), "limit": sanity.TARGET_MIN_RELATIVE_CHANGE}, verdicts.target_dependence(result)


_RUN = {"well_formed": _well_formed, "completeness": _completeness, "conservation": _conservation,
        "randomization": _randomization, "deterministic": _deterministic, "target_dependence": _target_dependence}


def run_check(case: CaseRun, check: str, known_failure: str = "", *, strict: bool = True) -> SanityOutcome:
    """Run the sanity check ``check`` on ``case``; ``known_failure`` is why it is known to fail, if it is
    (:class:`xai_eval.stores.known_failures.KnownFailures`), and ``strict`` whether its pass fails the run."""
    values, verdict = _RUN[check](case)
    return SanityOutcome(check, values, verdict, known_failure, strict)
