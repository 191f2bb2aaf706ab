"""``xai-eval compare``: runtime and max sensitivity of the same methods across reports."""

from __future__ import annotations

from collections.abc import Sequence

from xai_eval.errors import XaiEvalError
from xai_eval.report.runs import Run


def common_cases(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """The (model, method) pairs every report has, in the first report's order."""
    shared = [key for key in runs[0].cases if all(key in run.cases for run in runs[1:])]
    if not shared:
        names = " and ".join(str(run.path) for run in runs)
        raise XaiEvalError(f"{names} have no (model, method) in common; compare reports of the same suites")
    return shared


def _mean_over(values: dict[str, float], images: set[str]) -> float | None:
    return sum(values[image] for image in images) / len(images) if images else None


def comparison(runs: Sequence[Run]):  # -> pandas.DataFrame
    """One row per (model, method): medians, speed-ups and max sensitivities against the first report.

    Max sensitivity is the mean over the images every report has, so the difference compares like with like.
    """
    import pandas as pd

    rows = []
    for model, method in common_cases(runs):
        first = runs[0].cases[model, method]
        row: dict[str, object] = {"model": model, "method": method}
        for index, run in enumerate(runs):
            case = run.cases[model, method]
            tag = chr(ord("A") + index)
            row[f"median s [{tag}]"] = case.median_seconds
            if index:
                row[f"speed-up [{tag}]"] = first.median_seconds / case.median_seconds
        images = set.intersection(*(set(run.cases[model, method].max_sensitivity) for run in runs))
        means = [_mean_over(run.cases[model, method].max_sensitivity, images) for run in runs]
        for index, mean in enumerate(means):
            tag = chr(ord("A") + index)
            row[f"max sens. [{tag}]"] = mean
            if index and mean is not None and means[0] is not None:
                row[f"diff [{tag}]"] = mean - means[0]
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "method"])


def slower_than(runs: Sequence[Run], percent: float) -> list[str]:
    """Descriptions of the cases slower than the first report by more than ``percent``."""
    slow = []
    for model, method in common_cases(runs):
        base = runs[0].cases[model, method].median_seconds
        for index, run in enumerate(runs[1:], start=1):
            median = run.cases[model, method].median_seconds
            if median > base * (1 + percent / 100):
                slow.append(f"{model}/{method} [{chr(ord('A') + index)}] {median:.4g}s vs {base:.4g}s (+{(median / base - 1):.0%})")
    return slow


def unmatched(runs: Sequence[Run]) -> list[str]:
    """Notes on the (model, method) pairs that some reports lack (left out of the comparison)."""
    shared = set(common_cases(runs))
    notes = []
    for index, run in enumerate(runs):
        only = sorted(f"{model}/{method}" for model, method in run.cases if (model, method) not in shared)
        if only:
            notes.append(f"not in every report, left out: [{chr(ord('A') + index)}] {', '.join(only)}")
    return notes
