"""Per-case result records of a run (max sensitivity and sanity checks) and their JSON file."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from xai_eval.records.keys import CaseKey
from xai_eval.files import atomic_write_text

RESULTS_SCHEMA_VERSION = 2


@dataclass(frozen=True)
class CaseResult:
    """What a finished case reports to the terminal summary and the baseline update."""

    key: CaseKey
    nodeid: str
    value: float
    threshold: float | None
    """The team's threshold for this case (``[tool.xai_eval.thresholds]``), if any."""
    status: str
    """``pass``, ``fail``, ``missing``, ``updated`` or ``invalid``."""
    seconds: float
    spread: dict[str, float] | None = None
    """The value's spread under other seeds (min, max, mean, relative, k), when calibrating."""
    baseline: float | None = None
    """The recorded value it was compared with (None: no entry)."""
    meaning: str = ""
    """What the change means (:mod:`xai_eval.measure.change`): ``unchanged``, ``noise``, ``worse``, ...; '' if not compared."""
    sds: float | None = None
    """The change in standard deviations of the recorded seed spread."""
    metric: str = "max_sensitivity"
    """Which metric ``value`` is (the registry's name)."""
    details: dict[str, Any] = field(default_factory=dict)
    """What else the metric reported (ROAD's curves, RIS/ROS's prediction changes)."""
    seed: int = 0
    """The run's seed (``value`` is the number under it)."""
    seeds: dict[str, float] | None = None
    """The number under other seeds, by seed, computed by this run: the calibration seeds (``--xai-calibrate``)
    or the recorded seeds a paired rerun repeated (None: neither)."""
    paired: dict[str, Any] | None = None
    """The paired evidence of a change (:class:`xai_eval.measure.paired.PairedChange` as JSON, with the rerun's
    ``seconds``), or None."""
    undefined: str = ""
    """Why the metric is not defined for the case (``value`` is then NaN), or ''."""

    def to_property(self) -> dict[str, Any]:
        return {"key": self.key.to_list(), "nodeid": self.nodeid, "value": self.value, "threshold": self.threshold,
                "status": self.status, "seconds": self.seconds, "spread": self.spread, "baseline": self.baseline,
                "meaning": self.meaning, "sds": self.sds, "metric": self.metric, "details": self.details,
                "seed": self.seed, "seeds": self.seeds, "paired": self.paired, "undefined": self.undefined}

    @classmethod
    def from_property(cls, data: dict[str, Any]) -> CaseResult:
        return cls(CaseKey(*data["key"]), data["nodeid"], data["value"], data["threshold"], data["status"], data["seconds"],
                   data.get("spread"), data.get("baseline"), data.get("meaning", ""), data.get("sds"),
                   data.get("metric", "max_sensitivity"), data.get("details", {}), data.get("seed", 0), data.get("seeds"),
                   data.get("paired"), data.get("undefined", ""))


@dataclass(frozen=True)
class SanityRecord:
    """One sanity check's numbers for one case, and the test's outcome."""

    key: CaseKey
    check: str
    values: dict[str, Any]
    outcome: str = ""

    @classmethod
    def of(cls, case: Any, check: str, values: dict[str, Any]) -> SanityRecord:
        return cls(case.key, check, values)

    def to_property(self) -> dict[str, Any]:
        return {"key": self.key.to_list(), "check": self.check, "values": self.values}

    @classmethod
    def from_property(cls, data: dict[str, Any], outcome: str) -> SanityRecord:
        return cls(CaseKey(*data["key"]), data["check"], data["values"], outcome)



def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def case_records(
    results: Sequence[CaseResult], sanity: Sequence[SanityRecord], snapshots: Sequence[SnapshotResult] = ()
) -> dict[CaseKey, dict[str, Any]]:
    """One record per case: its max sensitivity (if run), its other metrics (under ``metrics``, by name), each
    sanity check's values and outcome, and its snapshot and fingerprint comparisons (with the maps of a
    changed snapshot, for drawing, and of a recorded one, for ``xai-eval record``)."""
    records: dict[CaseKey, dict[str, Any]] = {}

    def record(key: CaseKey) -> dict[str, Any]:
        return records.setdefault(
            key, {"profile": key.profile, "model": key.model, "method": key.method, "image": key.image, "sanity": {}}
        )

    for result in results:
        entry = {
            "value": _finite_or_none(result.value), "baseline": result.baseline, "meaning": result.meaning,
            "sds": _finite_or_none(result.sds), "threshold": result.threshold, "status": result.status,
            "seconds": result.seconds, **({"spread": result.spread} if result.spread else {}),
            **({"details": result.details} if result.details else {}),
            **({"seed": result.seed} if result.seed else {}), **({"seeds": result.seeds} if result.seeds else {}),
            **({"paired": result.paired} if result.paired else {}),
            **({"undefined": result.undefined} if result.undefined else {}),
        }
        if result.metric == "max_sensitivity":
            record(result.key)["max_sensitivity"] = entry
        else:
            record(result.key).setdefault("metrics", {})[result.metric] = entry
    for item in sanity:
        values = {name: _finite_or_none(value) for name, value in item.values.items()}
        record(item.key)["sanity"][item.check] = {"outcome": item.outcome, **values}
    for snap in snapshots:
        keep_map = "stored" in snap.measured or snap.status == "updated"  # drawn beside its snapshot, or recorded
        kept = {k: _finite_or_none(v) for k, v in snap.measured.items() if k != "values" or keep_map}
        record(snap.key)[snap.witness] = {"status": snap.status, "meaning": snap.meaning, "detail": snap.detail, **kept}
    return records


def write_results(
    path: Path, results: Sequence[CaseResult], sanity: Sequence[SanityRecord], run: dict[str, Any] | None = None,
    snapshots: Sequence[SnapshotResult] = (),
) -> None:
    """Write every case record to ``path`` as JSON, atomically; ``run`` says how (seed, threads, ...)."""
    records = case_records(results, sanity, snapshots)
    cases = [record for _, record in sorted(records.items(), key=lambda kv: str(kv[0]))]
    data = {"schema_version": RESULTS_SCHEMA_VERSION, "run": run or {}, "cases": cases}
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")




@dataclass(frozen=True)
class SnapshotResult:
    """One case's snapshot or fingerprint comparison (``witness``), and what the update would store."""

    key: CaseKey
    nodeid: str
    witness: str
    """``snapshot`` (the explanation's map) or ``fingerprint`` (the model's logits on the image)."""
    status: str
    """``pass``, ``changed``, ``missing``, ``updated`` or ``inconclusive``."""
    detail: str
    measured: dict[str, Any]
    """What the update stores: a map's float16 values (base64), scale, channel norms and calibrated noise, or a
    fingerprint."""
    meaning: str = ""
    """What the change means (``unchanged``, ``noise``, ``beyond``, ``unknown``); '' if nothing was compared."""

    def to_property(self) -> dict[str, Any]:
        return {"key": self.key.to_list(), "nodeid": self.nodeid, "witness": self.witness, "status": self.status,
                "detail": self.detail, "measured": self.measured, "meaning": self.meaning}

    @classmethod
    def from_property(cls, data: dict[str, Any]) -> SnapshotResult:
        return cls(CaseKey(*data["key"]), data["nodeid"], data["witness"], data["status"], data["detail"], data["measured"],
                   data.get("meaning", ""))


def method_metrics(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
    """Per (model, method), each image's max sensitivity, every other metric (``metrics``: metric -> image ->
    value) and sanity checks from case records: what a runtime case's benchmark ``extra_info`` carries (the
    run's, or the merged shards')."""
    by_pair: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for record in records:
        entry = by_pair.setdefault((record["model"], record["method"]), {"max_sensitivity": {}, "sanity": {}, "metrics": {}})
        if "max_sensitivity" in record:
            entry["max_sensitivity"][record["image"]] = record["max_sensitivity"]["value"]
        for metric, result in record.get("metrics", {}).items():
            entry["metrics"].setdefault(metric, {})[record["image"]] = result["value"]
        if record["sanity"]:
            entry["sanity"][record["image"]] = record["sanity"]
    return by_pair


_COMPARISON = ("status", "meaning", "detail")
"""What a snapshot or fingerprint record adds to the measured values (:func:`case_records`)."""


def results_of(record: dict[str, Any]) -> tuple[list[CaseResult], list[SnapshotResult]]:
    """The results a case record was written from (inverse of :func:`case_records`, without node ids): its max
    sensitivity, its other metrics and its snapshot and fingerprint comparisons. ``KeyError``, ``TypeError`` or
    ``ValueError`` for a malformed record."""
    key = CaseKey(record["profile"], record["model"], record["method"], record["image"])
    results = []
    metrics = [("max_sensitivity", record["max_sensitivity"])] if "max_sensitivity" in record else []
    metrics += list(record.get("metrics", {}).items())
    for metric, m in metrics:
        value = float("nan") if m["value"] is None else float(m["value"])
        results.append(CaseResult(key, "", value, m.get("threshold"), m["status"], m["seconds"], m.get("spread"),
                                  m.get("baseline"), m.get("meaning", ""), m.get("sds"), metric, m.get("details", {}),
                                  m.get("seed", 0), m.get("seeds"), m.get("paired"), m.get("undefined", "")))
    snapshots = []
    for witness in ("snapshot", "fingerprint"):
        if witness in record:
            data = dict(record[witness])
            measured = {k: v for k, v in data.items() if k not in _COMPARISON}
            snapshots.append(SnapshotResult(key, "", witness, data["status"], data["detail"], measured, data.get("meaning", "")))
    return results, snapshots
