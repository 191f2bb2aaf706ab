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
from xai_eval.measure.change import DESCRIPTIONS, PAIRED_OPTION, fails
from xai_eval.measure.metrics import MAX_SENSITIVITY, get_metric
from xai_eval.records.results import CaseResult, SnapshotResult
from xai_eval.stores.baselines import UPDATE_FLAG, BaselineEntry, BaselineStore

if TYPE_CHECKING:
    from xai_eval.engine.cases import CaseRun
    from xai_eval.engine.session import XaiSession
    from xai_eval.measure.similarity import Snapshot

Kind = Literal["pass", "fail", "missing", "invalid", "inconclusive", "updated"]
NOISE_HINT = ("CI runs one seed, so something computed it differently, though only the draws moved; if such changes "
              "should pass, run with --xai-fail-on worse-beyond-noise")


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
    """Compute the registered ``metric`` of ``case`` and :func:`check_value` it. A metric that is not defined for
    the case (e.g. every perturbation changed the prediction) is *inconclusive*, never a pass, unless it was
    recorded as undefined (then it is unchanged); one recorded as a number and now undefined fails."""
    from xai_eval.measure.verdicts import INCONCLUSIVE

    result = case.metric(metric)
    if not result.undefined:
        return check_value(session, case, result.value, metric, dict(result.details), nodeid)
    spec = get_metric(metric)
    entry = store_of(session, metric, nodeid).entries.get(case.key)
    update = session.settings.update_baselines
    status = "updated" if update else "missing" if entry is None else "pass" if entry.value is None else "fail"
    record = CaseResult(case.key, nodeid, math.nan, None, status, case.seconds_of(metric), metric=metric,
                        details=dict(result.details), seed=case.run_seed, undefined=result.undefined,
                        baseline=None if entry is None else entry.value,
                        meaning="" if entry is None else "unchanged" if entry.value is None else "unknown")
    if update:
        return Outcome(record, "updated")
    if status == "fail":
        return Outcome(record, "fail",
                       f"{spec.title} of {case.id} was recorded as {entry.value:.6g} and is no longer defined: "
                       f"{result.undefined}; something changed what it is computed from (if intended, accept it with "
                       f"{UPDATE_FLAG}: it is then recorded as undefined)")
    if status == "pass":
        return Outcome(record, "pass")
    return Outcome(record, "inconclusive", f"{INCONCLUSIVE}: {case.id}: {metric}: {result.undefined}")


def _paired(session: XaiSession, case: CaseRun, metric: str, entry: BaselineEntry, value: float
            ) -> tuple[tuple[list[float], list[float]] | None, dict[str, float], float, str]:
    """Under ``--xai-paired-reruns``: the case rerun with the current code on every seed ``entry`` was recorded
    under (the run's own seed reuses ``value``). Returns the (recorded, current) values in seed order, the current
    values by seed, the rerun's seconds, and, without paired evidence, how to get it."""
    import time

    from xai_eval.measure.paired import MIN_SEEDS

    recorded = entry.paired_values()
    if len(recorded) < MIN_SEEDS:
        return None, {}, 0.0, (f"no seeds are recorded for it to rerun: record them with --xai-calibrate 5")
    if not session.settings.paired_reruns:
        return None, {}, 0.0, f"rerun it on its {len(recorded)} recorded seeds with {PAIRED_OPTION}"
    start = time.perf_counter()
    current = {seed: value if seed == case.run_seed else case.metric(metric, seed).value for seed in sorted(recorded)}
    seconds = time.perf_counter() - start
    seeds = sorted(recorded)
    return ([recorded[s] for s in seeds], [current[s] for s in seeds]), current, seconds, ""


def check_value(session: XaiSession, case: CaseRun, value: float, metric: str = MAX_SENSITIVITY,
                details: dict[str, object] | None = None, nodeid: str = "") -> Outcome:
    """``value`` of ``metric`` against its recorded one (within the metric's numeric floor) and, for max
    sensitivity, against the team's threshold. A change beyond the floor means what the paired reruns say
    (``--xai-paired-reruns``: the case on its recorded seeds, with the code as it is now), else ``unknown``.

    Under ``--xai-calibrate K`` the case is also computed under K other seeds, recorded beside the value: the
    seeds a later paired rerun repeats.
    """
    spec = get_metric(metric)
    settings = session.settings
    update = settings.update_baselines
    nodeid = nodeid or case.id
    store = store_of(session, metric, nodeid)
    entry = store.entries.get(case.key)
    threshold = session.thresholds.of(case.key, case.profile.base) if metric == MAX_SENSITIVITY else None
    seeds: dict[str, float] | None = None
    spread = None
    if settings.calibrate and math.isfinite(value):
        from xai_eval.measure.spread import Spread

        seeds = {str(seed): case.metric(metric, seed).value for seed in session.calibration_seeds()}
        values = [v for v in (value, *seeds.values()) if math.isfinite(v)]
        spread = Spread.of(values) if len(values) >= 2 else None
    change = None
    paired_json = None
    if entry is not None and entry.value is not None and math.isfinite(value):
        assert spec.rtol is not None and spec.atol is not None
        floor = {"rtol": spec.rtol, "atol": spec.atol, "lower_is_better": spec.lower_is_better, "bounds": spec.bounds}
        change = entry.compare(value, **floor)
        if change.meaning != "unchanged":
            paired, rerun, seconds, missing = _paired(session, case, metric, entry, value)
            change = entry.compare(value, **floor, paired=paired, missing_evidence=missing)
            if change.paired is not None:
                paired_json = {**change.paired.to_json(), "seconds": seconds}
                if seeds is None:  # the rerun's values are this code's: accepting the change records them
                    seeds = {str(seed): v for seed, v in rerun.items() if seed != case.run_seed}
    over = threshold is not None and not value <= threshold.limit
    changed = change is not None and fails(change.meaning, settings.fail_on)
    # under --xai-update-baselines the value is recorded ("updated") and the test still fails over a threshold
    status = ("invalid" if not math.isfinite(value) else "updated" if update else "missing" if entry is None
              else "fail" if changed or over else "pass")
    result = CaseResult(
        case.key, nodeid, value, None if threshold is None else threshold.limit, status,
        case.seconds_of(metric), None if spread is None else spread.to_json(),
        baseline=None if entry is None else entry.value,
        meaning="unknown" if entry is not None and entry.value is None else "" if change is None else change.meaning,
        metric=metric, details=details or {}, seed=case.run_seed, seeds=seeds, paired=paired_json,
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
    if entry is not None and entry.value is None and not update:
        problems.append(f"{what} was recorded as undefined ({entry.undefined}) and is now {value:.6g}; something changed "
                        f"what it is computed from (if intended, accept it with {UPDATE_FLAG})")
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


def _snapshot_json(snapshot: Snapshot) -> dict[str, object]:
    from xai_eval.records.maps import encode_array

    return {"values": encode_array(snapshot.values), "scale": snapshot.scale, "channel_norms": list(snapshot.channel_norms)}


def _map_statistics(snapshots: list[Snapshot], recorded: list[Snapshot]) -> dict[str, list[float]]:
    from xai_eval.measure.paired import map_statistics

    return map_statistics([(s.restored().ravel(), s.channel_norms) for s in snapshots],
                          [r.restored().ravel() for r in recorded])


def check_snapshot(session: XaiSession, case: CaseRun, nodeid: str = "") -> Outcome:
    """The explanation is its snapshot (map with its magnitude, and channel norms) within the numeric floor.
    Two-sided: a changed explanation is what a team must review. A change means what the paired reruns say
    (``--xai-paired-reruns``: the map on every recorded seed, :func:`xai_eval.measure.paired.paired_map_change`),
    else ``unknown``. Under ``--xai-calibrate K`` the snapshot also records the map under K other seeds (the
    seeds a paired rerun repeats) and how far they move it (shown, unpaired, when there is no paired evidence)."""
    import time

    from xai_eval.measure.paired import describe_map_change, paired_map_change
    from xai_eval.measure.similarity import calibrated_noise, distance, map_meaning, snapshot_of
    from xai_eval.records.maps import encode_array

    nodeid = nodeid or case.id
    settings = session.settings
    current = snapshot_of(case.attribution())
    measured: dict[str, object] = {**_snapshot_json(current), "seed": case.run_seed}
    if settings.calibrate:
        others = {seed: snapshot_of(case.attribution_under(seed)) for seed in session.calibration_seeds()}
        measured["noise"] = calibrated_noise([distance(other, current) for other in others.values()]).to_json()
        measured["seeds"] = {str(seed): _snapshot_json(other) for seed, other in others.items()}
    entry = session.snapshots.maps.get(case.key)
    if entry is None:
        record = SnapshotResult(case.key, nodeid, "snapshot", "updated" if settings.update_baselines else "missing", "", measured)
        if settings.update_baselines:
            return Outcome(record, "updated")
        return Outcome(record, "missing", _missing_snapshot(session, case, "explanation snapshot", nodeid))
    d = distance(current, entry.snapshot)
    meaning = map_meaning(d, None)
    detail = d.describe()
    measured |= {"relative_l2": d.relative_l2, "rank_correlation": d.rank_correlation, "channel": d.channel}
    if meaning != "unchanged":
        from xai_eval.measure.paired import MIN_SEEDS

        recorded = entry.paired_snapshots()
        if len(recorded) < MIN_SEEDS:
            detail += "; no seeds are recorded for it to rerun: record them with --xai-calibrate 5"
        elif not settings.paired_reruns:
            detail += f"; rerun it on its {len(recorded)} recorded seeds with {PAIRED_OPTION}"
        else:
            start = time.perf_counter()
            seeds = sorted(recorded)
            rerun = {seed: current if seed == case.run_seed else snapshot_of(case.attribution_under(seed)) for seed in seeds}
            before = _map_statistics([recorded[s] for s in seeds], [recorded[s] for s in seeds])
            after = _map_statistics([rerun[s] for s in seeds], [recorded[s] for s in seeds])
            meaning, changes = paired_map_change(before, after)
            if changes:
                detail += f": {describe_map_change(changes)}"
                measured["paired"] = {"meaning": meaning, "statistics": [c.to_json() for c in changes],
                                      "seconds": time.perf_counter() - start}
                if "seeds" not in measured:  # this code's maps: accepting the change records them
                    measured["seeds"] = {str(seed): _snapshot_json(snap) for seed, snap in rerun.items()
                                         if seed != case.run_seed}
        if meaning == "unknown" and entry.noise is not None:
            detail += f" (unpaired, not evidence either way: {entry.noise.describe()})"
    status = "updated" if settings.update_baselines else "changed" if fails(meaning, settings.fail_on) else "pass"
    if meaning != "unchanged":  # for `xai-eval snapshots RESULTS.json`, which draws both
        measured |= {"stored": encode_array(entry.snapshot.values), "stored_scale": entry.snapshot.scale}
    record = SnapshotResult(case.key, nodeid, "snapshot", status, detail, measured, meaning)
    if status == "changed":
        return Outcome(record, "fail", f"explanation of {case.id} changed: {detail}: {DESCRIPTIONS[meaning]}; "
                                       f"{_accept_hint(meaning)}")
    return Outcome(record, "updated" if status == "updated" else "pass")
