"""The baseline assertion used by the suites (``xai_baselines`` fixture)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xai_eval.gate.baselines import UPDATE_FLAG
from xai_eval.gate.cases import CaseRun
from xai_eval.gate.distribution import runnable_nodeid
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
            case.key, runnable_nodeid(self.node), value, entry.threshold if entry else None, status, case.total_seconds,
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
                f"create it with: pytest {runnable_nodeid(self.node)!r} {UPDATE_FLAG}",
                pytrace=False,
            )
        if verdict.status == "regressed":
            assert entry is not None
            raise AssertionError(
                f"max sensitivity of {case.id} regressed: {value:.6g} > threshold {entry.threshold:.6g} "
                f"(baseline {entry.value:.6g}, rtol {entry.rtol:g}, atol {entry.atol:g}); "
                f"if the change is intended, accept it with {UPDATE_FLAG}"
            )


SNAPSHOT_PROPERTY = "xai_eval_snapshot"


class SnapshotGate:
    """Compares a case's explanation with its snapshot, and the model's logits with its fingerprint.

    Both are two-sided: any move beyond the tolerance fails, better or worse, because a changed
    explanation is what a team must review. Under ``--xai-update-baselines`` the current ones are
    recorded instead (``--xai-calibrate K`` also measures the map's spread under K other seeds).
    """

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session
        self.store = session.snapshots
        self.update = session.settings.update_baselines

    def _report(self, case: CaseRun, witness: str, status: str, detail: str, measured: dict[str, object]) -> None:
        from xai_eval.records.results import SnapshotResult

        result = SnapshotResult(case.key, runnable_nodeid(self.node), witness, status, detail, measured)
        self.node.user_properties.append((SNAPSHOT_PROPERTY, result.to_property()))

    def _missing(self, case: CaseRun, what: str) -> None:
        __tracebackhide__ = True
        folder = self.store.folder
        if not self.store.has_profile(case.key.profile):
            pytest.fail(f"{folder} has no snapshots for profile {case.key.profile!r}; create them (and calibrate their "
                        f"limits) with: pytest suites/test_snapshot.py --xai-profile {case.key.profile} --xai-calibrate 5",
                        pytrace=False)
        pytest.fail(f"no {what} for {case.key} in {folder}; create it with: pytest {runnable_nodeid(self.node)!r} {UPDATE_FLAG}",
                    pytrace=False)

    def check_fingerprint(self, case: CaseRun) -> None:
        """The model's target and top-5 logits on the case's image are the recorded ones."""
        __tracebackhide__ = True
        from xai_eval.gate.snapshots import fingerprint_key
        from xai_eval.measure.fingerprint import changes, fingerprint_of

        current = fingerprint_of(case.logits(), case.target)
        stored = self.store.fingerprints.get(fingerprint_key(case.key))
        moved = [] if stored is None else changes(case.logits(), case.target, stored)
        status = "updated" if self.update else "missing" if stored is None else "changed" if moved else "pass"
        self._report(case, "fingerprint", status, "; ".join(moved), current.to_json())
        if self.update:
            return
        if stored is None:
            self._missing(case, "model fingerprint")
        if moved:
            raise AssertionError(
                f"model fingerprint of {case.id} changed: {'; '.join(moved)} (the model or its preprocessing is not "
                f"the recorded one); if intended, accept it with {UPDATE_FLAG}"
            )

    def check_snapshot(self, case: CaseRun) -> None:
        """The explanation is within its snapshot's tolerance (relative L2 and rank correlation)."""
        __tracebackhide__ = True
        from xai_eval.measure.similarity import calibrated_tolerance, distance, snapshot_of
        from xai_eval.records.maps import encode_array

        current = snapshot_of(case.attribution())
        measured: dict[str, object] = {"values": encode_array(current.values), "scale": current.scale}
        if self.session.settings.calibrate:
            others = [distance(snapshot_of(case.attribution_under(seed)), current) for seed in self.session.calibration_seeds()]
            measured["tolerance"] = calibrated_tolerance(others).to_json()
        entry = self.store.maps.get(case.key)
        if entry is None:
            self._report(case, "snapshot", "updated" if self.update else "missing", "", measured)
            if not self.update:
                self._missing(case, "explanation snapshot")
            return
        d = distance(current, entry.snapshot)
        tol = entry.tolerance
        detail = (f"relative L2 {d.relative_l2:.3g} (limit {tol.max_relative_l2:.3g}), rank correlation "
                  f"{d.rank_correlation:.3g} (limit {1 - tol.max_rank_distance:.3g})")
        measured |= {"relative_l2": d.relative_l2, "rank_correlation": d.rank_correlation}
        status = "updated" if self.update else "changed" if not tol.allows(d) else "pass" if tol.informative else "inconclusive"
        if status == "changed":  # for `xai-eval snapshots RESULTS.json`, which draws both
            measured |= {"stored": encode_array(entry.snapshot.values), "stored_scale": entry.snapshot.scale}
        self._report(case, "snapshot", status, detail, measured)
        if status == "changed":
            raise AssertionError(
                f"explanation of {case.id} moved from its snapshot: {detail}; if intended, accept it with {UPDATE_FLAG}"
            )
        if status == "inconclusive":
            from xai_eval.measure.verdicts import INCONCLUSIVE, Inconclusive

            raise Inconclusive(
                f"{INCONCLUSIVE}: {case.id}: under other seeds its map moves as far as a zero or unrelated map would "
                f"(limits: relative L2 {tol.max_relative_l2:.3g}, rank correlation {1 - tol.max_rank_distance:.3g}), "
                "so the snapshot cannot tell a change from the dice; raise the method's samples, then re-calibrate "
                "with: pytest suites/test_snapshot.py --xai-calibrate 5"
            )
