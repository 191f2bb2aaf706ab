"""Per-case results of a run (max sensitivity and sanity checks) as rows and as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xai_eval.baselines import CaseKey
from xai_eval.files import atomic_write_text
from xai_eval.session import CaseResult, SanityRecord

RESULTS_SCHEMA_VERSION = 1


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def case_records(results: Sequence[CaseResult], sanity: Sequence[SanityRecord]) -> dict[CaseKey, dict[str, Any]]:
    """One record per case: its max sensitivity (if run) and each sanity check's values and outcome."""
    records: dict[CaseKey, dict[str, Any]] = {}

    def record(key: CaseKey) -> dict[str, Any]:
        return records.setdefault(
            key, {"profile": key.profile, "model": key.model, "method": key.method, "image": key.image, "sanity": {}}
        )

    for result in results:
        record(result.key)["max_sensitivity"] = {
            "value": result.value, "threshold": result.threshold, "status": result.status, "seconds": result.seconds,
        }
    for item in sanity:
        values = {name: _finite_or_none(value) for name, value in item.values.items()}
        record(item.key)["sanity"][item.check] = {"outcome": item.outcome, **values}
    return records


def write_results(path: Path, results: Sequence[CaseResult], sanity: Sequence[SanityRecord]) -> None:
    """Write every case record to ``path`` as JSON, atomically."""
    cases = [records for _, records in sorted(case_records(results, sanity).items(), key=lambda kv: str(kv[0]))]
    atomic_write_text(path, json.dumps({"schema_version": RESULTS_SCHEMA_VERSION, "cases": cases}, indent=2) + "\n")


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
            text = f"err {_number(v['relative_error'], 2)}" if v.get("n_deltas", 1) <= 1 else (
                f"delta {_number(v['mean_delta'], 2)} (se {_number(v['standard_error'], 2)})")
        elif item.check == "conservation":
            text = f"err {_number(v['bias_free_relative_error'], 2)}, kept {_number(v['retained_share'], 2)}"
        elif item.check == "randomization":
            text = " / ".join(_number(v[stage], 2) for stage in ("classifier", "last block", "whole network"))
        elif item.check == "target_dependence":
            text = f"change {_number(v['relative_change'], 2)}"
        else:
            text = "yes" if v.get("ok") else "no"
        mark = {"failed": " FAIL", "xfailed": " (xfail)", "xpassed": " XPASS"}.get(item.outcome, "")
        cells.setdefault((item.key.model, item.key.method, item.key.image), {})[item.check] = text + mark
    header = ("model", "method", "image", "well-formed", "completeness", "conservation (bias-free)",
              "rand. rho cls/last/all", "determ.", "target")
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
