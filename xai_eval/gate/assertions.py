"""The assertions the suites make against recorded numbers: ``xai_baselines`` and ``xai_snapshots``.

What each check decides is :mod:`xai_eval.engine.comparison`'s (the Python API decides through the same
functions); here each verdict becomes a test outcome, and its record a user property the controller collects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xai_eval.engine import comparison
from xai_eval.errors import Inconclusive
from xai_eval.gate.distribution import runnable_nodeid
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.records.results import CaseResult

if TYPE_CHECKING:
    from xai_eval.engine.cases import CaseRun
    from xai_eval.engine.session import XaiSession

RESULT_PROPERTY = "xai_eval_result"
METRIC_PROPERTY = "xai_eval_metric"
SANITY_PROPERTY = "xai_eval_sanity"
CASE_PROPERTY = "xai_eval_case"
SNAPSHOT_PROPERTY = "xai_eval_snapshot"
ACCEPTED_PROPERTY = "xai_eval_accepted_failure"
"""A sanity failure accepted as known under ``--xai-accept-failures``: ``[case key, check]``."""


def enforce(node: pytest.Item, outcome: comparison.Outcome) -> None:
    """Record ``outcome``'s record on the test, then pass, fail or skip (inconclusive) as it decided."""
    __tracebackhide__ = True
    record = outcome.record
    if isinstance(record, CaseResult):
        node.user_properties.append((RESULT_PROPERTY, record.to_property()))
    elif record is not None:
        node.user_properties.append((SNAPSHOT_PROPERTY, record.to_property()))
    if outcome.kind in ("missing", "invalid"):
        pytest.fail(outcome.message, pytrace=False)
    if outcome.kind == "fail":
        raise AssertionError(outcome.message)
    if outcome.kind == "inconclusive":
        raise Inconclusive(outcome.message)


class BaselineGate:
    """Compares a case's metric with its baseline entry (and, for max sensitivity, the team's threshold), and
    records it (:func:`xai_eval.engine.comparison.check_value`)."""

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session

    def check_metric(self, case: CaseRun, metric: str) -> None:
        """Compute the registered ``metric`` of ``case`` and :meth:`check` it; a metric that is not defined for
        the case (e.g. every perturbation changed the prediction) reports *inconclusive*, never a pass."""
        __tracebackhide__ = True
        enforce(self.node, comparison.check_metric(self.session, case, metric, runnable_nodeid(self.node)))

    def check(self, case: CaseRun, value: float, metric: str = MAX_SENSITIVITY,
              details: dict[str, object] | None = None) -> None:
        """Pass if ``value`` is the recorded one (within the metric's numeric floor) and, for max sensitivity,
        within the team's threshold; under ``--xai-calibrate K`` also record its spread under K other seeds."""
        __tracebackhide__ = True
        enforce(self.node, comparison.check_value(self.session, case, value, metric, details, runnable_nodeid(self.node)))


class SnapshotGate:
    """Compares a case's explanation with its snapshot, and the model with its fingerprint (both two-sided);
    under ``--xai-update-baselines`` records the current ones."""

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session

    def check_fingerprint(self, case: CaseRun) -> None:
        """The model's target, top-5 logits and input gradient on the case's image are the recorded ones."""
        __tracebackhide__ = True
        enforce(self.node, comparison.check_fingerprint(self.session, case, runnable_nodeid(self.node)))

    def check_snapshot(self, case: CaseRun) -> None:
        """The explanation is its snapshot (map with its magnitude, and channel norms) within the numeric floor."""
        __tracebackhide__ = True
        enforce(self.node, comparison.check_snapshot(self.session, case, runnable_nodeid(self.node)))
