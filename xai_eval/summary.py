"""The Table-I-like terminal summary of a gate run."""

from __future__ import annotations

from collections.abc import Sequence

from xai_eval.results import aligned
from xai_eval.session import CaseResult

COLUMNS = ("model", "method", "image", "max sens.", "threshold", "status", "seconds")


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def results_table(results: Sequence[CaseResult]) -> list[str]:
    """Rows of method, value, threshold, status and seconds, one per case, aligned."""
    rows = [COLUMNS] + [
        (r.key.model, r.key.method, r.key.image, _fmt(r.value), _fmt(r.threshold), r.status, f"{r.seconds:.1f}")
        for r in sorted(results, key=lambda r: (r.key.model, r.key.image, r.key.method))
    ]
    return aligned(rows)
