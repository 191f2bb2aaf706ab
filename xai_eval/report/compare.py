"""``xai-eval compare``: runtime and max sensitivity of the same methods across reports."""

from __future__ import annotations

from collections.abc import Sequence

from xai_eval.errors import XaiEvalError
from xai_eval.report.runs import UNKNOWN, Run


def tag(index: int) -> str:
    """How the CLI names the ``index``-th report: [A] (the reference), [B], ..."""
    return chr(ord("A") + index)


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
            name = tag(index)
            row[f"median s [{name}]"] = case.median_seconds
            if index:
                row[f"speed-up [{name}]"] = first.median_seconds / case.median_seconds
        images = set.intersection(*(set(run.cases[model, method].max_sensitivity) for run in runs))
        means = [_mean_over(run.cases[model, method].max_sensitivity, images) for run in runs]
        for index, mean in enumerate(means):
            name = tag(index)
            row[f"max sens. [{name}]"] = mean
            if index and mean is not None and means[0] is not None:
                row[f"diff [{name}]"] = mean - means[0]
        rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "method"])


def metric_tables(runs: Sequence[Run]) -> dict[str, object]:  # metric label -> pandas.DataFrame
    """One table per metric other than max sensitivity (which :func:`comparison` shows): per (model, method),
    the mean over the images every report has, in each report, and its difference from the first.

    The metrics are the first report's, in its order; a report without a metric shows nothing for it."""
    import pandas as pd

    tables: dict[str, object] = {}
    for name, info in runs[0].metrics.items():
        if name == "max_sensitivity":
            continue
        rows = []
        for model, method in common_cases(runs):
            values = [run.cases[model, method].values_of(name) for run in runs]
            images = set.intersection(*(set(v) for v in values)) if all(values) else set()
            means = [_mean_over(v, images) for v in values]
            row: dict[str, object] = {"model": model, "method": method}
            for index, mean in enumerate(means):
                row[f"[{tag(index)}]"] = mean
                if index and mean is not None and means[0] is not None:
                    row[f"diff [{tag(index)}]"] = mean - means[0]
            rows.append(row)
        better = "" if info.lower_is_better is None else f" ({'lower' if info.lower_is_better else 'higher'} is better)"
        tables[f"{info.label}{better}"] = pd.DataFrame(rows).set_index(["model", "method"])
    return tables


def slower_than(runs: Sequence[Run], percent: float) -> list[str]:
    """Descriptions of the cases slower than the first report by more than ``percent``."""
    slow = []
    for model, method in common_cases(runs):
        base = runs[0].cases[model, method].median_seconds
        for index, run in enumerate(runs[1:], start=1):
            median = run.cases[model, method].median_seconds
            if median > base * (1 + percent / 100):
                slow.append(f"{model}/{method} [{tag(index)}] {median:.4g}s vs {base:.4g}s (+{(median / base - 1):.0%})")
    return slow


def unmatched(runs: Sequence[Run]) -> list[str]:
    """Notes on the (model, method) pairs that some reports lack (left out of the comparison)."""
    shared = set(common_cases(runs))
    notes = []
    for index, run in enumerate(runs):
        only = sorted(f"{model}/{method}" for model, method in run.cases if (model, method) not in shared)
        if only:
            notes.append(f"not in every report, left out: [{tag(index)}] {', '.join(only)}")
    return notes


MIN_ROUNDS = 5
MORE_ROUNDS = "pytest suites/test_runtime.py --xai-benchmark-rounds 20 --benchmark-json=FILE"


def _setup(run: Run) -> dict[str, str | None]:
    """What must match for timings to compare like with like; None where an (older) report does not say."""
    machine = run.machine

    def known(key: str) -> str | None:
        value = machine.get(key)
        return None if value is None else str(value)

    return {
        "profile": None if run.profile == UNKNOWN else run.profile,
        "device": known("xai_device"),
        "models": " + ".join(sorted({model for model, _ in run.cases})),
        "threads": known("torch_num_threads"),
        "seed": known("xai_seed"),
    }


def differences(runs: Sequence[Run]) -> list[str]:
    """Per later report, how its setup differs from the first's, e.g. "[A] and [B] differ in device (cpu vs cuda)"."""
    first = _setup(runs[0])
    notes = []
    for index, run in enumerate(runs[1:], start=1):
        other = _setup(run)
        differ = [
            f"{name} ({first[name]} vs {other[name]})"
            for name in first
            if first[name] is not None and other[name] is not None and first[name] != other[name]
        ]
        if differ:
            notes.append(f"[A] and [{tag(index)}] differ in {', '.join(differ)}")
    return notes


def too_few_rounds(runs: Sequence[Run], least: int = MIN_ROUNDS) -> list[str]:
    """Per report, the compared cases timed over fewer than ``least`` rounds (or an unrecorded number)."""
    notes = []
    shared = common_cases(runs)
    for index, run in enumerate(runs):
        short = {key: run.cases[key].rounds for key in shared if (run.cases[key].rounds or 0) < least}
        counts = {"?" if rounds is None else str(rounds) for rounds in short.values()}
        if len(short) == len(shared) and len(counts) == 1:
            listed = f"all {len(shared)} compared cases have {counts.pop()} rounds"
        else:
            listed = ", ".join(f"{model}/{method} ({'?' if r is None else r})" for (model, method), r in short.items())
        if short:
            notes.append(f"[{tag(index)}] {run.path}: {listed}")
    return notes
