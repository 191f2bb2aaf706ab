"""The baseline assertion used by the suites (``xai_baselines`` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xai_eval.gate.baselines import UPDATE_FLAG
from xai_eval.gate.cases import CaseRun
from xai_eval.records.results import CaseResult

if TYPE_CHECKING:
    from xai_eval.gate.session import XaiSession

RESULT_PROPERTY = "xai_eval_result"
SANITY_PROPERTY = "xai_eval_sanity"
CASE_PROPERTY = "xai_eval_case"


class BaselineGate:
    """Compares a case's value with its baseline entry and records the result."""

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session
        self.store = session.baselines
        self.update = session.settings.update_baselines

    def check(self, case: CaseRun, value: float) -> None:
        """Pass if ``value`` is within the baseline's threshold; fail with the command that accepts it.

        Under ``--xai-calibrate K`` the case is also recomputed under K other seeds and their spread is
        recorded, to be written beside the baseline with the tolerance derived from it.
        """
        __tracebackhide__ = True
        verdict = self.store.judge(case.key, value)
        entry = verdict.entry
        spread = None
        if self.session.settings.calibrate:
            from xai_eval.measure.spread import Spread

            seeds = self.session.calibration_seeds()
            spread = Spread.of([value, *(case.max_sensitivity(seed) for seed in seeds)])
        status = "updated" if self.update and verdict.status != "invalid" else verdict.status
        result = CaseResult(
            case.key, self.node.nodeid, value, entry.threshold if entry else None, status, case.total_seconds,
            None if spread is None else spread.to_json(),
        )
        self.node.user_properties.append((RESULT_PROPERTY, result.to_property()))
        path = self.store.path
        if verdict.status == "invalid":
            pytest.fail(
                f"max sensitivity of {case.id} is {value} (not a number); the explanation or the metric is broken, "
                "so it cannot be compared or accepted",
                pytrace=False,
            )
        if self.update:
            return
        if verdict.status == "missing":
            if not self.store.has_profile(case.key.profile):
                pytest.fail(
                    f"{path} has no entries for profile {case.key.profile!r}; create them with: "
                    f"pytest suites/ --xai-profile {case.key.profile} {UPDATE_FLAG}",
                    pytrace=False,
                )
            pytest.fail(
                f"no baseline entry {case.key} in {path} (max sensitivity {value:.6g}); "
                f"create it with: pytest {self.node.nodeid!r} {UPDATE_FLAG}",
                pytrace=False,
            )
        if verdict.status == "regressed":
            assert entry is not None
            raise AssertionError(
                f"max sensitivity of {case.id} regressed: {value:.6g} > threshold {entry.threshold:.6g} "
                f"(baseline {entry.value:.6g}, rtol {entry.rtol:g}, atol {entry.atol:g}); "
                f"if the change is intended, accept it with {UPDATE_FLAG}"
            )
