"""The baseline assertion used by the suites (``xai_baselines`` fixture)."""

from __future__ import annotations

import pytest

from xai_eval.gate.baselines import UPDATE_FLAG, BaselineStore
from xai_eval.gate.cases import CaseRun
from xai_eval.records.results import CaseResult

RESULT_PROPERTY = "xai_eval_result"
SANITY_PROPERTY = "xai_eval_sanity"


class BaselineGate:
    """Compares a case's value with its baseline entry and records the result."""

    def __init__(self, node: pytest.Item, store: BaselineStore, update: bool) -> None:
        self.node = node
        self.store = store
        self.update = update

    def check(self, case: CaseRun, value: float) -> None:
        """Pass if ``value`` is within the baseline's threshold; fail with the flag to accept it."""
        __tracebackhide__ = True
        verdict = self.store.judge(case.key, value)
        entry = verdict.entry
        status = "updated" if self.update else verdict.status
        result = CaseResult(case.key, self.node.nodeid, value, entry.threshold if entry else None, status, case.total_seconds)
        self.node.user_properties.append((RESULT_PROPERTY, result.to_property()))
        if self.update:
            return
        path = self.store.path
        if verdict.status == "missing":
            if not self.store.has_profile(case.key.profile):
                pytest.fail(
                    f"{path} has no entries for profile {case.key.profile!r}; create them with: "
                    f"pytest suites/ --xai-profile {case.key.profile} {UPDATE_FLAG}",
                    pytrace=False,
                )
            pytest.fail(
                f"no baseline entry {case.key} in {path} (max sensitivity {value:.6g}); "
                f"create it with: pytest suites/ {UPDATE_FLAG} -k '{case.id}'",
                pytrace=False,
            )
        if verdict.status == "regressed":
            assert entry is not None
            raise AssertionError(
                f"max sensitivity of {case.id} regressed: {value:.6g} > threshold {entry.threshold:.6g} "
                f"(baseline {entry.value:.6g}, rtol {entry.rtol:g}, atol {entry.atol:g}); "
                f"if the change is intended, accept it with {UPDATE_FLAG}"
            )
