"""Pass, fail or inconclusive: what each sanity check's numbers mean, as pure functions.

A check that cannot be made informative reports *inconclusive*; the gate turns that into a visible
skip, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from xai_eval.errors import Inconclusive
from xai_eval.measure import sanity
from xai_eval.measure.checks import Completeness, Conservation, TargetDependence

Outcome = Literal["pass", "fail", "inconclusive"]
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str
    limit: float | None = None

    def enforce(self, case_id: str) -> None:
        """Raise ``AssertionError`` on fail; :class:`~xai_eval.errors.Inconclusive` when not informative (the
        gate reports it as a skip marked inconclusive)."""
        __tracebackhide__ = True
        if self.outcome == "fail":
            raise AssertionError(f"{case_id}: {self.message}")
        if self.outcome == "inconclusive":
            raise Inconclusive(f"{INCONCLUSIVE}: {case_id}: {self.message}")


def completeness(result: Completeness, base_profile: str) -> Verdict:
    limit = sanity.COMPLETENESS_RTOL.get(base_profile, min(sanity.COMPLETENESS_RTOL.values()))
    what = "f(x) - f(baseline)" if result.n_samples <= 1 else f"the mean of f(x + noise) - f(baseline) over {result.n_samples} samples"
    if not result.relative_error <= limit:
        return Verdict("fail", f"sum of attributions misses {what} = {result.output_difference:.4g} by "
                       f"{result.relative_error:.1%} (convergence delta {result.mean_delta:.4g}); limit {limit:.0%}", limit)
    return Verdict("pass", "", limit)


def conservation(result: Conservation) -> Verdict:
    if not result.bias_free_relative_error <= sanity.CONSERVATION_RTOL:
        return Verdict("fail", f"on the bias-free model LRP relevance sums to {result.bias_free_relevance:.6g} for a logit "
                       f"of {result.bias_free_logit:.6g} (relative error {result.bias_free_relative_error:.3g} > "
                       f"{sanity.CONSERVATION_RTOL:g}); relevance leaks, so some operation is invisible to LRP",
                       sanity.CONSERVATION_RTOL)
    return Verdict("pass", "", sanity.CONSERVATION_RTOL)


def randomization(correlations: Mapping[str, float], constant_stages: tuple[str, ...] = ()) -> Verdict:
    """Each stage's correlation must be below its limit. NaN passes only for a stage whose randomised
    explanation is constant (it changed completely); any other NaN fails."""
    for stage, limit in sanity.RANDOMIZATION_MAX_SPEARMAN.items():
        value = correlations[stage]
        if math.isnan(value):
            if stage in constant_stages:
                continue
            return Verdict("fail", f"after randomising the {stage} the rank correlation is NaN without a stated reason "
                           "(the original explanation is constant, or the randomised one could not be computed)", limit)
        if not value < limit:
            return Verdict("fail", f"after randomising the {stage} the explanation keeps Spearman correlation {value:.3f} "
                           f">= {limit} with the original; it does not depend on those parameters", limit)
    return Verdict("pass", "")


def target_dependence(result: TargetDependence) -> Verdict:
    limit = sanity.TARGET_MIN_RELATIVE_CHANGE
    if not result.relative_change >= limit:
        return Verdict("fail", f"the explanation for class {result.other_target} differs from the label's by only "
                       f"{result.relative_change:.2e} (relative L2, same method draws); it ignores the target", limit)
    return Verdict("pass", "", limit)
