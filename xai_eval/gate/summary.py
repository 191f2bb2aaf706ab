"""The Table-I-like terminal summary of a gate run."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from xai_eval.measure.change import SEVERITY
from xai_eval.records.keys import CaseKey
from xai_eval.records.results import CaseResult, SanityRecord, SnapshotResult

COLUMNS = ("model", "method", "image", "max sens.", "baseline", "change", "threshold", "status", "seconds")
SHORT = {"unchanged": "unchanged", "noise": "noise", "worse": "WORSE", "better": "better", "beyond": "beyond",
         "unknown": "unknown"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _paired_size(paired: dict[str, Any]) -> str:
    """A paired change's mean and interval, short: ``+38% (+31% to +45%)`` (absolute for an absolute floor)."""
    reference = paired.get("reference") or 0.0
    if paired.get("relative") and reference:
        mean, low, high = (paired[k] / abs(reference) for k in ("mean", "low", "high"))
        return f"{mean:+.1%} ({low:+.1%} to {high:+.1%})"
    return f"{paired['mean']:+.3g} ({paired['low']:+.3g} to {paired['high']:+.3g})"


def _change_cell(r: CaseResult) -> str:
    if not r.meaning:
        return "-"
    cell = SHORT.get(r.meaning, r.meaning)
    return f"{cell} {_paired_size(r.paired)}" if r.paired else cell


def results_table(results: Sequence[CaseResult]) -> list[str]:
    """Rows of method, value, baseline, what the change means, threshold, status and seconds, one per case."""
    rows = [COLUMNS] + [
        (r.key.model, r.key.method, r.key.image, _fmt(r.value), _fmt(r.baseline), _change_cell(r), _fmt(r.threshold),
         r.status, f"{r.seconds:.1f}")
        for r in sorted(results, key=lambda r: (r.key.model, r.key.image, r.key.method))
    ]
    return aligned(rows)


def _metric_cell(r: CaseResult) -> str:
    value = "undefined" if r.undefined else "nan" if not math.isfinite(r.value) else f"{r.value:.4g}"
    if r.status in ("missing", "invalid"):
        return f"{value} {r.status}"
    return value if r.meaning in ("", "unchanged") else f"{value} {_change_cell(r)}"


def metrics_table(results: Sequence[CaseResult]) -> list[str]:
    """One row per case, one column per metric: its value, and what its change means when it changed."""
    from xai_eval.measure.metrics import METRICS

    present = {r.metric for r in results}
    metrics = [name for name in METRICS if name in present] + sorted(present - set(METRICS))
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    for r in results:
        cells.setdefault((r.key.model, r.key.image, r.key.method), {})[r.metric] = _metric_cell(r)
    labels = [METRICS[name].title if name in METRICS else name for name in metrics]
    rows = [("model", "method", "image", *labels)]
    for (model, image, method), row in sorted(cells.items()):
        rows.append((model, method, image, *(row.get(name, "-") for name in metrics)))
    return aligned(rows)


def prediction_changes(results: Sequence[CaseResult]) -> list[str]:
    """One line per photo on which perturbations changed the model's prediction (RIS and ROS leave them out)."""
    photos: dict[tuple[str, str, str], tuple[int, int]] = {}
    for r in results:
        changes = r.details.get("prediction_changes")
        if isinstance(changes, int) and changes > 0:
            photos[r.key.profile, r.key.model, r.key.image] = (changes, changes + int(r.details.get("kept", 0)))
    return [f"xai-eval: on {'/'.join(photo)}, {changes} of {total} perturbations changed the model's prediction; "
            "relative stability (RIS, ROS) leaves them out" for photo, (changes, total) in sorted(photos.items())]


def changes_summary(results: Sequence[CaseResult], snapshots: Sequence[SnapshotResult]) -> list[str]:
    """How many cases changed beyond the numeric floor and what each change means, one line a case; then the
    model changes (a fingerprint that moved), once per (profile, model, photo)."""
    from xai_eval.measure.change import DESCRIPTIONS, most_serious

    checks: dict[CaseKey, list[tuple[str, str, str]]] = {}
    for r in results:
        if r.meaning:
            baseline = "undefined" if r.baseline is None else f"{r.baseline:.6g}"
            detail = f"{r.value:.6g} from {baseline}" + (f", paired {_paired_size(r.paired)}" if r.paired else "")
            checks.setdefault(r.key, []).append(("sensitivity" if r.metric == "max_sensitivity" else r.metric, r.meaning, detail))
    for snap in snapshots:
        if snap.meaning:
            detail = "the model changed: see below" if snap.witness == "fingerprint" else snap.detail
            checks.setdefault(snap.key, []).append((snap.witness, snap.meaning, detail))
    changed = {key: found for key, found in checks.items() if any(m != "unchanged" for _, m, _ in found)}
    if not checks:
        return []
    by_meaning = Counter(most_serious([m for _, m, _ in found]) for found in changed.values())
    counted = ", ".join(f"{n} {DESCRIPTIONS[m]}" for m, n in sorted(by_meaning.items(), key=lambda kv: SEVERITY.index(kv[0])))
    lines = ["", f"xai-eval: {len(changed)} of {len(checks)} case(s) changed beyond the numeric floor" + (f": {counted}" if counted else "")]
    for key, found in sorted(changed.items(), key=lambda kv: str(kv[0])):
        parts = [f"{check} {SHORT.get(m, m)}" + (f" ({detail})" if detail else "") for check, m, detail in found if m != "unchanged"]
        lines.append(f"  {key}: {'; '.join(parts)}")
    models: dict[tuple[str, str, str], tuple[str, int]] = {}
    for snap in snapshots:
        if snap.witness == "fingerprint" and snap.meaning == "beyond":
            where = (snap.key.profile, snap.key.model, snap.key.image)
            models[where] = (snap.detail, models.get(where, ("", 0))[1] + 1)
    reruns = [r.paired["seconds"] for r in results if r.paired] + [
        s.measured["paired"]["seconds"] for s in snapshots if isinstance(s.measured.get("paired"), dict)]
    if reruns:
        rerun_cases = {r.key for r in results if r.paired} | {s.key for s in snapshots if s.measured.get("paired")}
        lines.append(f"xai-eval: paired reruns: {len(reruns)} number(s) of {len(rerun_cases)} case(s) rerun on their "
                     f"recorded seeds in {sum(reruns):.1f} s")
    if models:
        lines.append(f"xai-eval: the model changed on {len(models)} photo(s); every method's change there follows from it:")
        lines += [f"  {'/'.join(where)}: {detail} ({n} case(s))" for where, (detail, n) in sorted(models.items())]
    return lines


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def sanity_summary(sanity: Sequence[SanityRecord]) -> list[tuple[str, ...]]:
    """Rows of model, method, image and one short cell per check."""
    checks = ("well_formed", "completeness", "conservation", "randomization", "deterministic", "target_dependence")
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    for item in sanity:
        v = item.values
        if item.check == "completeness":
            text = f"err {_number(v['relative_error'], 2)}"
        elif item.check == "conservation":
            text = f"err {_number(v['bias_free_relative_error'], 2)}, kept {_number(v['retained_share'], 2)}"
        elif item.check == "randomization":
            text = " / ".join(_number(v[stage], 2) for stage in ("last block", "whole network"))
        elif item.check == "target_dependence":
            text = f"change {_number(v['relative_change'], 2)}"
        else:
            text = "yes" if v.get("ok") else "no"
        # a check that recorded its numbers and then skipped ran and could not decide: inconclusive
        mark = {"failed": " FAIL", "xfailed": " (xfail)", "xpassed": " XPASS", "skipped": " (inconclusive)",
                "inconclusive": " (inconclusive)"}.get(item.outcome, "")
        cells.setdefault((item.key.model, item.key.method, item.key.image), {})[item.check] = text + mark
    header = ("model", "method", "image", "well-formed", "completeness", "conservation (bias-free)",
              "rand. rho last/all", "determ.", "target")
    rows = [header]
    for (model, method, image), row in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1])):
        rows.append((model, method, image, *(row.get(check, "-") for check in checks)))
    return rows


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns with a rule under the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def loose_cases(results: Sequence[CaseResult], baselines: Path) -> list[str]:
    """Lines naming the cases whose spread under other seeds exceeds ``LOOSE_SPREAD`` (never hidden), per metric."""
    from xai_eval.stores.baselines import BaselineStore, metric_baselines_path
    from xai_eval.measure.spread import LOOSE_SPREAD, Spread

    entries = {}
    for metric in {r.metric for r in results}:
        try:
            entries[metric] = BaselineStore.load(metric_baselines_path(baselines, metric), metric).entries
        except Exception:  # noqa: BLE001 - the gate already reported a bad file
            entries[metric] = {}
    loose = []
    loose_cases = set()
    uncalibrated = 0
    for r in sorted(results, key=lambda r: (r.metric != "max_sensitivity", r.metric, r.nodeid)):
        spread = Spread(**r.spread) if r.spread else getattr(entries[r.metric].get(r.key), "spread", None)
        which = "" if r.metric == "max_sensitivity" else f" {r.metric}"
        if spread is None:
            uncalibrated += 1
        elif spread.loose:
            relative = "with a mean of 0" if spread.relative is None else f"{spread.relative:.1%}"
            loose.append(f"  {r.key.id}{which}: relative spread {relative} over {spread.k} seeds "
                         f"(min {spread.min:.4g}, max {spread.max:.4g})")
            loose_cases.add(r.key)
    lines = []
    if loose:
        lines += ["", f"xai-eval: {len(loose)} loose number(s) of {len(loose_cases)} case(s), spread under other seeds "
                      f"above {LOOSE_SPREAD:.0%}:", *loose]
    if uncalibrated:
        lines += ["", f"xai-eval: {uncalibrated} value(s) have no calibrated spread; calibrate with --xai-calibrate 5"]
    return lines


def reason_kind(reason: str) -> str:
    """``missing device``, ``missing weights``, ``not applicable``, ``inconclusive`` or ``other``."""
    head = reason.split(":", 1)[0]
    return head if head in ("missing device", "missing weights", "not applicable", "inconclusive") else "other"


def excluded(exclude: Mapping[str, Mapping[str, str]], models: Iterable[str]) -> list[tuple[str, str, str]]:
    """The (model id, method, reason) pairs of ``[tool.xai_eval.exclude]`` for this run's ``models`` (specs), sorted:
    cases that never run, listed so that nothing goes green by not running."""
    from xai_eval.models.registry import model_id

    ids = {model_id(spec) for spec in models}
    return sorted((model, method, reason) for model, methods in exclude.items() if model in ids
                  for method, reason in methods.items())


def skip_counts(reasons: Iterable[str], *, strict: bool) -> str:
    """One line counting skipped cases by kind of reason ('' when none skipped)."""
    counts = Counter(reason_kind(reason) for reason in reasons)
    if not counts:
        return ""
    parts = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    did_not_run = sum(n for kind, n in counts.items() if kind != "inconclusive")
    hint = "" if strict or not did_not_run else "; run with --xai-strict (as CI should) to fail the cases that did not run"
    if counts["inconclusive"]:
        hint += "; an inconclusive check ran and could not decide (never a pass)"
    return f"xai-eval: {sum(counts.values())} case(s) skipped: {parts}{hint}"
