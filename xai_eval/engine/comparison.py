"""A case's numbers against what was recorded: every check's verdict, as data.

Every recorded number is compared at its numeric floor (:mod:`xai_eval.records.floors`). A change beyond
it fails by default and says what it means against the case's spread under other seeds
(:mod:`xai_eval.measure.change`); ``--xai-fail-on worse-beyond-noise`` fails only what is worse beyond that
noise. The team's own thresholds (``[tool.xai_eval.thresholds]``) fail whatever the baseline says.

The pytest plugin (:mod:`xai_eval.gate.assertions`) and the Python API (:meth:`xai_eval.api.Run.check`) both
decide through these functions, so a verdict does not depend on the face that asked for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from xai_eval.errors import XaiEvalError
from xai_eval.measure.change import DESCRIPTIONS, fails
from xai_eval.measure.metrics import MAX_SENSITIVITY, get_metric
from xai_eval.records.results import CaseResult, SnapshotResult
from xai_eval.stores.baselines import UPDATE_FLAG, BaselineStore

if TYPE_CHECKING:
    from xai_eval.engine.cases import CaseRun
    from xai_eval.engine.session import XaiSession

Kind = Literal["pass", "fail", "missing", "invalid", "inconclusive", "updated"]
NOISE_HINT = ("CI runs one seed, so something computed it differently; if only changes worse beyond the noise "
              "should fail, run with --xai-fail-on worse-beyond-noise")


@dataclass(frozen=True)
class Outcome:
    """One check of one case: its record (for the results file and the summary), and what it decided.

    ``kind`` is ``pass``; ``fail`` (a change, or a threshold crossed); ``missing`` (nothing recorded to compare
    with); ``invalid`` (not a number); ``inconclusive`` (the check ran and could not decide: never a pass); or
    ``updated`` (recorded, under ``--xai-update-baselines``). ``message`` says why, in one line."""

    record: CaseResult | SnapshotResult | None
    kind: Kind
    message: str = ""


def _accept_hint(meaning: str) -> str:
    hint = f"if intended, accept it with {UPDATE_FLAG}"
    return f"{hint} ({NOISE_HINT})" if meaning == "noise" else hint


def store_of(session: XaiSession, metric: str, nodeid: str) -> BaselineStore:
    """The baselines of ``metric``: max sensitivity's file, or the metric's own file beside it; a metric the
    profile does not run has none (one line, not another metric's file)."""
    if metric == MAX_SENSITIVITY:
        return session.baselines
    if metric not in session.metric_baselines:
        raise XaiEvalError(
            f"{nodeid}: metric {metric!r} is not in profile {session.settings.profile!r}'s "
            "metrics list; add it to the profile's metrics = [...] to gate it"
        )
    return session.metric_baselines[metric]


def check_metric(session: XaiSession, case: CaseRun, metric: str, nodeid: str) -> Outcome:
    """Compute the registered ``metric`` of ``case`` and :func:`check_value` it; a metric that is not defined for
    the case (e.g. every perturbation changed the prediction) is *inconclusive*, never a pass."""
    from xai_eval.measure.verdicts import INCONCLUSIVE

    result = case.metric(metric)
    if result.undefined:
        recorded = store_of(session, metric, nodeid).entries.get(case.key)
        if recorded is not None and math.isfinite(recorded.value) and not session.settings.update_baselines:
            return Outcome(None, "fail",
                           f"{metric} of {case.id} was recorded as {recorded.value:.6g} and is no longer defined: "
                           f"{result.undefined}; something changed what it is computed from (if intended, accept it with "
                           f"{UPDATE_FLAG})")
        return Outcome(None, "inconclusive", f"{INCONCLUSIVE}: {case.id}: {metric}: {result.undefined}")
    return check_value(session, case, result.value, metric, dict(result.details), nodeid)


def check_value(session: XaiSession, case: CaseRun, value: float, metric: str = MAX_SENSITIVITY,
                details: dict[str, object] | None = None, nodeid: str = "") -> Outcome:
    """``value`` of ``metric`` against its recorded one (within the metric's numeric floor) and, for max
    sensitivity, against the team's threshold.

    Under ``--xai-calibrate K`` the case is also recomputed under K other seeds and their spread is recorded
    beside the value, to say what a later change means.
    """
    spec = get_metric(metric)
    settings = session.settings
    update = settings.update_baselines
    nodeid = nodeid or case.id
    store = store_of(session, metric, nodeid)
    entry = store.entries.get(case.key)
    threshold = session.thresholds.of(case.key, case.profile.base) if metric == MAX_SENSITIVITY else None
    spread = None
    if settings.calibrate and math.isfinite(value):
        from xai_eval.measure.spread import Spread

        others = [case.metric(metric, seed).value for seed in session.calibration_seeds()]
        values = [v for v in (value, *others) if math.isfinite(v)]
        spread = Spread.of(values) if len(values) >= 2 else None
    change = (entry.compare(value, rtol=spec.rtol, atol=spec.atol, lower_is_better=spec.lower_is_better)
              if entry is not None and math.isfinite(value) else None)
    over = threshold is not None and not value <= threshold.limit
    changed = change is not None and fails(change.meaning, settings.fail_on)
    # under --xai-update-baselines the value is recorded ("updated") and the test still fails over a threshold
    status = ("invalid" if not math.isfinite(value) else "updated" if update else "missing" if entry is None
              else "fail" if changed or over else "pass")
    result = CaseResult(
        case.key, nodeid, value, None if threshold is None else threshold.limit, status,
        case.seconds_of(metric), None if spread is None else spread.to_json(),
        baseline=None if entry is None else entry.value,
        meaning="" if change is None else change.meaning,
        sds=None if change is None else change.sds,
        metric=metric, details=details or {},
    )
    what = f"{spec.title} of {case.id}"
    if status == "invalid":
        return Outcome(result, "invalid", f"{what} is {value} (not a number); the explanation or the metric is broken, "
                                          "so it cannot be compared or accepted")
    problems = []
    if over:
        assert threshold is not None
        problems.append(f"{what} is {value:.6g}, above the threshold {threshold.limit:g} of "
                        f"{threshold.where} (whatever its baseline)")
    if changed and not update:
        assert change is not None
        direction = "lower" if spec.lower_is_better else "higher"
        problems.append(f"{what} changed: {change.describe()}: {DESCRIPTIONS[change.meaning]} ({direction} is better); "
                        f"{_accept_hint(change.meaning)}")
    if entry is None and not update:
        missing = _missing_value(case, value, store, spec.title, nodeid)
        if not problems:
            return Outcome(result, "missing", missing)
        problems.append(missing)
    if problems:
        return Outcome(result, "fail", "; and ".join(problems))
    return Outcome(result, "updated" if update else "pass")


def _missing_value(case: CaseRun, value: float, store: BaselineStore, title: str, nodeid: str) -> str:
    path = store.path
    if not store.has_profile(case.key.profile):
        return (f"{path} has no entries for profile {case.key.profile!r}; create them with: "
                f"pytest suites/ --xai-profile {case.key.profile} {UPDATE_FLAG}")
    return (f"no baseline entry {case.key} in {path} ({title} {value:.6g}); "
            f"create it with: pytest {nodeid!r} {UPDATE_FLAG}")


def _missing_snapshot(session: XaiSession, case: CaseRun, what: str, nodeid: str) -> str:
    folder = session.snapshots.folder
    if not session.snapshots.has_profile(case.key.profile):
        return (f"{folder} has no snapshots for profile {case.key.profile!r}; create them (and calibrate their "
                f"noise) with: pytest suites/test_snapshot.py --xai-profile {case.key.profile} --xai-calibrate 5")
    return f"no {what} for {case.key} in {folder}; create it with: pytest {nodeid!r} {UPDATE_FLAG}"


def check_fingerprint(session: XaiSession, case: CaseRun, nodeid: str = "") -> Outcome:
    """The model's target, top-5 logits and input gradient on the case's image are the recorded ones. Two-sided:
    a model has no dice, so any move beyond the numeric floor is a model change."""
    from xai_eval.measure.fingerprint import changes, fingerprint_of
    from xai_eval.stores.snapshots import fingerprint_key

    nodeid = nodeid or case.id
    update = session.settings.update_baselines
    current = fingerprint_of(case.logits(), case.target, case.input_gradient())
    stored = session.snapshots.fingerprints.get(fingerprint_key(case.key))
    moved = [] if stored is None else changes(case.logits(), case.target, stored, current.gradient)
    status = "updated" if update else "missing" if stored is None else "changed" if moved else "pass"
    meaning = "" if stored is None else "beyond" if moved else "unchanged"
    record = SnapshotResult(case.key, nodeid, "fingerprint", status, "; ".join(moved), current.to_json(), meaning)
    if update:
        return Outcome(record, "updated")
    if stored is None:
        return Outcome(record, "missing", _missing_snapshot(session, case, "model fingerprint", nodeid))
    if moved:
        return Outcome(record, "fail",
                       f"model fingerprint of {case.id} changed: {'; '.join(moved)}; the model, its preprocessing or its "
                       f"gradients are not the recorded ones (a model has no dice: this is a model change, and every method "
                       f"on {case.key.image} changes with it); if intended, accept it with {UPDATE_FLAG}")
    return Outcome(record, "pass")


def check_snapshot(session: XaiSession, case: CaseRun, nodeid: str = "") -> Outcome:
    """The explanation is its snapshot (map with its magnitude, and channel norms) within the numeric floor.
    Two-sided: a changed explanation is what a team must review. Under ``--xai-calibrate K`` the snapshot also
    records how far K other seeds move the map (its Monte-Carlo noise)."""
    from xai_eval.measure.similarity import calibrated_noise, distance, map_meaning, snapshot_of
    from xai_eval.measure.verdicts import INCONCLUSIVE
    from xai_eval.records.maps import encode_array

    nodeid = nodeid or case.id
    settings = session.settings
    policy = settings.fail_on
    current = snapshot_of(case.attribution())
    measured: dict[str, object] = {"values": encode_array(current.values), "scale": current.scale,
                                   "channel_norms": list(current.channel_norms)}
    if settings.calibrate:
        others = [distance(snapshot_of(case.attribution_under(seed)), current) for seed in session.calibration_seeds()]
        measured["noise"] = calibrated_noise(others).to_json()
    entry = session.snapshots.maps.get(case.key)
    if entry is None:
        record = SnapshotResult(case.key, nodeid, "snapshot", "updated" if settings.update_baselines else "missing", "", measured)
        if settings.update_baselines:
            return Outcome(record, "updated")
        return Outcome(record, "missing", _missing_snapshot(session, case, "explanation snapshot", nodeid))
    d = distance(current, entry.snapshot)
    meaning = map_meaning(d, entry.noise)
    detail = d.describe() + ("" if entry.noise is None else f"; {entry.noise.describe()}")
    measured |= {"relative_l2": d.relative_l2, "rank_correlation": d.rank_correlation, "channel": d.channel}
    uninformative = entry.noise is not None and not entry.noise.informative
    if settings.update_baselines:
        status = "updated"
    elif meaning == "noise" and policy != "change" and uninformative:
        status = "inconclusive"
    else:
        status = "changed" if fails(meaning, policy) else "pass"
    if meaning != "unchanged":  # for `xai-eval snapshots RESULTS.json`, which draws both
        measured |= {"stored": encode_array(entry.snapshot.values), "stored_scale": entry.snapshot.scale}
    record = SnapshotResult(case.key, nodeid, "snapshot", status, detail, measured, meaning)
    if status == "changed":
        return Outcome(record, "fail", f"explanation of {case.id} changed: {detail}: {DESCRIPTIONS[meaning]}; "
                                       f"{_accept_hint(meaning)}")
    if status == "inconclusive":
        assert entry.noise is not None
        return Outcome(record, "inconclusive",
                       f"{INCONCLUSIVE}: {case.id}: its map changed ({d.describe()}) within what another seed does, but "
                       f"another seed moves it as far as a zero or unrelated map would ({entry.noise.describe()}), so under "
                       "--xai-fail-on worse-beyond-noise the snapshot cannot tell a regression from the dice; raise the "
                       "method's samples, or run with --xai-fail-on change")
    return Outcome(record, "updated" if status == "updated" else "pass")
