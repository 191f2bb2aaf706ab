"""Writing recorded values into the baselines file and the snapshots folder.

One path for both ways a run records: the end of a run under ``--xai-update-baselines`` (its test reports)
and ``xai-eval record`` (the results files of a run's shards, each recorded under
``--xai-update-baselines --xai-results FILE``). So the shards' files, recorded into the committed ones, are
byte for byte what one job recording the same cases writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.stores.baselines import UPDATE_FLAG
from xai_eval.records.results import CaseResult, SnapshotResult, results_of


def record_baselines(path: Path, results: Iterable[CaseResult]) -> dict[str, tuple[Path, int, int]]:
    """Accept the values of ``results`` into each metric's baselines file (max sensitivity's at ``path``, every
    other metric's ``METRIC.json`` beside it); per metric, max sensitivity first: the file and the counts of
    updated and new entries."""
    from xai_eval.measure.metrics import MAX_SENSITIVITY, METRICS
    from xai_eval.stores.baselines import BaselineStore, metric_baselines_path

    results = list(results)
    counts: dict[str, tuple[Path, int, int]] = {}
    for metric in sorted({r.metric for r in results}, key=lambda m: (m != MAX_SENSITIVITY, m)):
        file = metric_baselines_path(path, metric)
        accepted = [(r.key, entry) for r in results if r.metric == metric and (entry := baseline_entry(r)) is not None]
        spec = METRICS.get(metric)  # a metric registered only in a conftest.py is not here: nothing counts as unchanged
        floor = {"rtol": spec.rtol, "atol": spec.atol} if spec is not None else {"rtol": 0.0, "atol": 0.0}
        store, n_updated, n_new = BaselineStore.load(file, metric).updated(accepted, **floor)
        store.save()
        counts[metric] = (file, n_updated, n_new)
    return counts


def baseline_entry(r: CaseResult) -> Any:
    """The baselines entry a recorded result becomes: its value at the run's seed, its values at the other seeds
    this run computed (calibration, or a paired rerun) and their spread; an undefined metric as undefined; None
    for a value that is not a number (never accepted)."""
    import math

    from xai_eval.measure.spread import Spread
    from xai_eval.stores.baselines import BaselineEntry

    if r.undefined:
        return BaselineEntry(None, seed=r.seed, undefined=r.undefined)
    if not math.isfinite(r.value):
        return None
    seeds = {int(seed): float(v) for seed, v in (r.seeds or {}).items() if int(seed) != r.seed and math.isfinite(v)}
    spread = Spread.of([r.value, *seeds.values()]) if seeds else None
    return BaselineEntry(r.value, spread, r.seed, seeds)


def record_snapshots(folder: Path, results: Sequence[SnapshotResult]) -> tuple[int, int]:
    """Accept the maps and fingerprints of ``results`` into the snapshots ``folder``; the counts of updated and
    new entries."""
    from xai_eval.stores.snapshots import SnapshotStore

    maps, prints = [], []
    for r in results:
        entry = _store_entry(r)
        (prints if r.witness == "fingerprint" else maps).append(entry)
    store, n_updated, n_new = SnapshotStore.load(folder).updated(maps, prints)
    store.save(r.key.profile for r in results)
    return n_updated, n_new


def _store_entry(r: SnapshotResult) -> tuple[Any, ...]:
    """What the snapshots store accepts of one result: ``(key, Fingerprint)`` or ``(key, MapEntry)`` (the map, its
    noise, and its maps under the other seeds this run computed)."""
    from xai_eval.measure.fingerprint import Fingerprint
    from xai_eval.measure.similarity import MapNoise, Snapshot
    from xai_eval.records.maps import decode_array
    from xai_eval.stores.snapshots import MapEntry

    if r.witness == "fingerprint":
        return r.key, Fingerprint.from_json(r.measured)

    def snapshot(raw: dict[str, Any]) -> Snapshot:
        return Snapshot(decode_array(raw["values"]), float(raw["scale"]), tuple(float(v) for v in raw["channel_norms"]))

    noise = r.measured.get("noise")
    seeds = {int(seed): snapshot(raw) for seed, raw in r.measured.get("seeds", {}).items()}
    return r.key, MapEntry(snapshot(r.measured), None if noise is None else MapNoise(**noise),
                           int(r.measured.get("seed", 0)), seeds)


RECORD_SHARDS = f"run every shard with {UPDATE_FLAG} --xai-results FILE"


def recorded(cases: Sequence[dict[str, Any]], where: str) -> tuple[list[CaseResult], list[SnapshotResult]]:
    """What the case records of a run recorded under ``--xai-update-baselines`` (merged shards' included); one
    line naming ``where`` and the case when a record was gated instead, or cannot be recorded."""
    results: list[CaseResult] = []
    snapshots: list[SnapshotResult] = []
    prints: dict[tuple[str, str, str], tuple[str, dict[str, Any]]] = {}
    for record in cases:
        name = f"{record['profile']}/{record['model']}/{record['method']}/{record['image']}"
        try:
            values, comparisons = results_of(record)
            statuses = [(r.metric.replace("_", " "), r.status) for r in values] + [(r.witness, r.status) for r in comparisons]
            gated = next(((what, status) for what, status in statuses if status not in ("updated", "invalid")), None)
            if gated is None:
                for r in comparisons:
                    _store_entry(r)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise XaiEvalError(f"{where}: case {name}: a malformed record ({type(exc).__name__}: {exc}); {RECORD_SHARDS}") from None
        if gated is not None:
            raise XaiEvalError(f"{where}: case {name}: its {gated[0]} was gated (status {gated[1]!r}), not recorded; {RECORD_SHARDS}")
        for r in comparisons:
            if r.witness == "fingerprint":
                _same_fingerprint(prints, r, name, where)
        results += values
        snapshots += comparisons
    if not results and not snapshots:
        raise XaiEvalError(f"{where}: no metric, snapshot or fingerprint was recorded; {RECORD_SHARDS}")
    return results, snapshots


def _same_fingerprint(prints: dict[tuple[str, str, str], tuple[str, dict[str, Any]]], r: SnapshotResult, name: str,
                      where: str) -> None:
    """A photo's fingerprint is the model's, whichever case recorded it: the cases of one photo (in one job, they
    share it) must agree, or the shards computed the model differently."""
    key = (r.key.profile, r.key.model, r.key.image)
    first = prints.setdefault(key, (name, r.measured))
    if first[1] != r.measured:
        raise XaiEvalError(
            f"{where}: fingerprint {'/'.join(key)} recorded by case {name} differs from the one case {first[0]} recorded;"
            " shards must compute the same model (same package versions, device and --xai-threads), so record them again"
        )
