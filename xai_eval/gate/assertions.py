"""The assertions the suites make against recorded numbers: ``xai_baselines`` and ``xai_snapshots``.

Every recorded number is compared at its numeric floor (:mod:`xai_eval.records.floors`). A change beyond
it fails by default and says what it means against the case's spread under other seeds
(:mod:`xai_eval.measure.change`); ``--xai-fail-on worse-beyond-noise`` fails only what is worse beyond that
noise. The team's own thresholds (``[tool.xai_eval.thresholds]``) fail whatever the baseline says.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from xai_eval.gate.baselines import UPDATE_FLAG, BaselineStore
from xai_eval.gate.cases import CaseRun
from xai_eval.gate.distribution import runnable_nodeid
from xai_eval.gate.metrics import MAX_SENSITIVITY
from xai_eval.measure.change import DESCRIPTIONS, fails
from xai_eval.records.results import CaseResult

if TYPE_CHECKING:
    from xai_eval.gate.session import XaiSession

RESULT_PROPERTY = "xai_eval_result"
METRIC_PROPERTY = "xai_eval_metric"
SANITY_PROPERTY = "xai_eval_sanity"
CASE_PROPERTY = "xai_eval_case"
SNAPSHOT_PROPERTY = "xai_eval_snapshot"
NOISE_HINT = ("CI runs one seed, so something computed it differently; if only changes worse beyond the noise "
              "should fail, run with --xai-fail-on worse-beyond-noise")


def _accept_hint(meaning: str) -> str:
    hint = f"if intended, accept it with {UPDATE_FLAG}"
    return f"{hint} ({NOISE_HINT})" if meaning == "noise" else hint


class BaselineGate:
    """Compares a case's metric with its baseline entry (and, for max sensitivity, the team's threshold), and
    records it. Every metric is gated alike: the comparison at the metric's numeric floor, the meaning of a
    change from the case's seed spread, calibration, the accept command and the results record."""

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session
        self.store = session.baselines
        self.update = session.settings.update_baselines

    def check_metric(self, case: CaseRun, metric: str) -> None:
        """Compute the registered ``metric`` of ``case`` and :meth:`check` it; a metric that is not defined for
        the case (e.g. every perturbation changed the prediction) reports *inconclusive*, never a pass."""
        __tracebackhide__ = True
        result = case.metric(metric)
        if result.undefined:
            from xai_eval.measure.verdicts import INCONCLUSIVE, Inconclusive

            recorded = self._store_of(metric).entries.get(case.key)
            if recorded is not None and math.isfinite(recorded.value) and not self.update:
                raise AssertionError(
                    f"{metric} of {case.id} was recorded as {recorded.value:.6g} and is no longer defined: "
                    f"{result.undefined}; something changed what it is computed from (if intended, accept it with "
                    f"{UPDATE_FLAG})"
                )
            raise Inconclusive(f"{INCONCLUSIVE}: {case.id}: {metric}: {result.undefined}")
        self.check(case, result.value, metric, dict(result.details))

    def _store_of(self, metric: str) -> BaselineStore:
        """The baselines of ``metric``: max sensitivity's file, or the metric's own file beside it; a metric the
        profile does not run has none (one line, not another metric's file)."""
        if metric == MAX_SENSITIVITY:
            return self.store
        if metric not in self.session.metric_baselines:
            from xai_eval.errors import XaiEvalError

            raise XaiEvalError(
                f"{runnable_nodeid(self.node)}: metric {metric!r} is not in profile {self.session.settings.profile!r}'s "
                "metrics list; add it to the profile's metrics = [...] to gate it"
            )
        return self.session.metric_baselines[metric]

    def check(self, case: CaseRun, value: float, metric: str = MAX_SENSITIVITY,
              details: dict[str, object] | None = None) -> None:
        """Pass if ``value`` is the recorded one (within the metric's numeric floor) and, for max sensitivity,
        within the team's threshold.

        Under ``--xai-calibrate K`` the case is also recomputed under K other seeds and their spread is
        recorded beside the baseline, to say what a later change means.
        """
        __tracebackhide__ = True
        from xai_eval.gate.metrics import get_metric

        spec = get_metric(metric)
        settings = self.session.settings
        store = self._store_of(metric)
        entry = store.entries.get(case.key)
        threshold = self.session.thresholds.of(case.key, case.profile.base) if metric == MAX_SENSITIVITY else None
        spread = None
        if settings.calibrate and math.isfinite(value):
            from xai_eval.measure.spread import Spread

            others = [case.metric(metric, seed).value for seed in self.session.calibration_seeds()]
            values = [v for v in (value, *others) if math.isfinite(v)]
            spread = Spread.of(values) if len(values) >= 2 else None
        change = (entry.compare(value, rtol=spec.rtol, atol=spec.atol, lower_is_better=spec.lower_is_better)
                  if entry is not None and math.isfinite(value) else None)
        over = threshold is not None and not value <= threshold.limit
        changed = change is not None and fails(change.meaning, settings.fail_on)
        # under --xai-update-baselines the value is recorded ("updated") and the test still fails over a threshold
        status = ("invalid" if not math.isfinite(value) else "updated" if self.update else "missing" if entry is None
                  else "fail" if changed or over else "pass")
        result = CaseResult(
            case.key, runnable_nodeid(self.node), value, None if threshold is None else threshold.limit, status,
            case.seconds_of(metric), None if spread is None else spread.to_json(),
            baseline=None if entry is None else entry.value,
            meaning="" if change is None else change.meaning,
            sds=None if change is None else change.sds,
            metric=metric, details=details or {},
        )
        self.node.user_properties.append((RESULT_PROPERTY, result.to_property()))
        what = f"{spec.title} of {case.id}"
        if status == "invalid":
            pytest.fail(
                f"{what} is {value} (not a number); the explanation or the metric is broken, "
                "so it cannot be compared or accepted",
                pytrace=False,
            )
        problems = []
        if over:
            assert threshold is not None
            problems.append(f"{what} is {value:.6g}, above the threshold {threshold.limit:g} of "
                            f"{threshold.where} (whatever its baseline)")
        if changed and not self.update:
            assert change is not None
            direction = "lower" if spec.lower_is_better else "higher"
            problems.append(f"{what} changed: {change.describe()}: {DESCRIPTIONS[change.meaning]} ({direction} is better); "
                            f"{_accept_hint(change.meaning)}")
        if entry is None and not self.update:
            if not problems:
                pytest.fail(self._missing(case, value, store, spec.title), pytrace=False)
            problems.append(self._missing(case, value, store, spec.title))
        if problems:
            raise AssertionError("; and ".join(problems))

    def _missing(self, case: CaseRun, value: float, store: BaselineStore, title: str) -> str:
        path = store.path
        if not store.has_profile(case.key.profile):
            return (f"{path} has no entries for profile {case.key.profile!r}; create them with: "
                    f"pytest suites/ --xai-profile {case.key.profile} {UPDATE_FLAG}")
        return (f"no baseline entry {case.key} in {path} ({title} {value:.6g}); "
                f"create it with: pytest {runnable_nodeid(self.node)!r} {UPDATE_FLAG}")


class SnapshotGate:
    """Compares a case's explanation with its snapshot, and the model with its fingerprint.

    Both are two-sided: any move beyond the numeric floor is a change, because a changed explanation is
    what a team must review. Under ``--xai-update-baselines`` the current ones are recorded instead
    (``--xai-calibrate K`` also measures how far K other seeds move the map: its Monte-Carlo noise).
    """

    def __init__(self, node: pytest.Item, session: XaiSession) -> None:
        self.node = node
        self.session = session
        self.store = session.snapshots
        self.update = session.settings.update_baselines

    def _report(self, case: CaseRun, witness: str, status: str, detail: str, measured: dict[str, object],
                meaning: str = "") -> None:
        from xai_eval.records.results import SnapshotResult

        result = SnapshotResult(case.key, runnable_nodeid(self.node), witness, status, detail, measured, meaning)
        self.node.user_properties.append((SNAPSHOT_PROPERTY, result.to_property()))

    def _missing(self, case: CaseRun, what: str) -> None:
        __tracebackhide__ = True
        folder = self.store.folder
        if not self.store.has_profile(case.key.profile):
            pytest.fail(f"{folder} has no snapshots for profile {case.key.profile!r}; create them (and calibrate their "
                        f"noise) with: pytest suites/test_snapshot.py --xai-profile {case.key.profile} --xai-calibrate 5",
                        pytrace=False)
        pytest.fail(f"no {what} for {case.key} in {folder}; create it with: pytest {runnable_nodeid(self.node)!r} {UPDATE_FLAG}",
                    pytrace=False)

    def check_fingerprint(self, case: CaseRun) -> None:
        """The model's target, top-5 logits and input gradient on the case's image are the recorded ones."""
        __tracebackhide__ = True
        from xai_eval.gate.snapshots import fingerprint_key
        from xai_eval.measure.fingerprint import changes, fingerprint_of

        current = fingerprint_of(case.logits(), case.target, case.input_gradient())
        stored = self.store.fingerprints.get(fingerprint_key(case.key))
        moved = [] if stored is None else changes(case.logits(), case.target, stored, current.gradient)
        status = "updated" if self.update else "missing" if stored is None else "changed" if moved else "pass"
        meaning = "" if stored is None else "beyond" if moved else "unchanged"
        self._report(case, "fingerprint", status, "; ".join(moved), current.to_json(), meaning)
        if self.update:
            return
        if stored is None:
            self._missing(case, "model fingerprint")
        if moved:
            raise AssertionError(
                f"model fingerprint of {case.id} changed: {'; '.join(moved)}; the model, its preprocessing or its "
                f"gradients are not the recorded ones (a model has no dice: this is a model change, and every method "
                f"on {case.key.image} changes with it); if intended, accept it with {UPDATE_FLAG}"
            )

    def check_snapshot(self, case: CaseRun) -> None:
        """The explanation is its snapshot (map with its magnitude, and channel norms) within the numeric floor."""
        __tracebackhide__ = True
        from xai_eval.measure.similarity import calibrated_noise, distance, map_meaning, snapshot_of
        from xai_eval.records.maps import encode_array

        policy = self.session.settings.fail_on
        current = snapshot_of(case.attribution())
        measured: dict[str, object] = {"values": encode_array(current.values), "scale": current.scale,
                                       "channel_norms": list(current.channel_norms)}
        if self.session.settings.calibrate:
            others = [distance(snapshot_of(case.attribution_under(seed)), current) for seed in self.session.calibration_seeds()]
            measured["noise"] = calibrated_noise(others).to_json()
        entry = self.store.maps.get(case.key)
        if entry is None:
            self._report(case, "snapshot", "updated" if self.update else "missing", "", measured)
            if not self.update:
                self._missing(case, "explanation snapshot")
            return
        d = distance(current, entry.snapshot)
        meaning = map_meaning(d, entry.noise)
        detail = d.describe() + ("" if entry.noise is None else f"; {entry.noise.describe()}")
        measured |= {"relative_l2": d.relative_l2, "rank_correlation": d.rank_correlation, "channel": d.channel}
        uninformative = entry.noise is not None and not entry.noise.informative
        if self.update:
            status = "updated"
        elif meaning == "noise" and policy != "change" and uninformative:
            status = "inconclusive"
        else:
            status = "changed" if fails(meaning, policy) else "pass"
        if meaning != "unchanged":  # for `xai-eval snapshots RESULTS.json`, which draws both
            measured |= {"stored": encode_array(entry.snapshot.values), "stored_scale": entry.snapshot.scale}
        self._report(case, "snapshot", status, detail, measured, meaning)
        if status == "changed":
            raise AssertionError(
                f"explanation of {case.id} changed: {detail}: {DESCRIPTIONS[meaning]}; {_accept_hint(meaning)}"
            )
        if status == "inconclusive":
            from xai_eval.measure.verdicts import INCONCLUSIVE, Inconclusive

            assert entry.noise is not None
            raise Inconclusive(
                f"{INCONCLUSIVE}: {case.id}: its map changed ({d.describe()}) within what another seed does, but "
                f"another seed moves it as far as a zero or unrelated map would ({entry.noise.describe()}), so under "
                "--xai-fail-on worse-beyond-noise the snapshot cannot tell a regression from the dice; raise the "
                "method's samples, or run with --xai-fail-on change"
            )
