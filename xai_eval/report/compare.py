"""``xai-eval compare``: the same work's runtime and gated numbers across runs, one column per machine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from xai_eval.errors import XaiEvalError
from xai_eval.records.floors import SENSITIVITY_ATOL, SENSITIVITY_RTOL
from xai_eval.report.runs import MethodRun, Run
from xai_eval.report.setups import device_kind, different_code, headings, numerics, tag, work_differences

@dataclass(frozen=True)
class GatedNumber:
    """A number the gate compares at a numeric floor: its column label, its values (photo -> value) in a case,
    and its floor (``atol + rtol * |value|``)."""

    label: str
    values: Callable[[MethodRun], dict[str, float]]
    rtol: float = SENSITIVITY_RTOL
    atol: float = SENSITIVITY_ATOL


GATED_NUMBERS: tuple[GatedNumber, ...] = (GatedNumber("max sens.", attrgetter("max_sensitivity")),)
"""The numbers every report has (max sensitivity, when its suite ran beside the runtime cases)."""


def gated_numbers(runs: Sequence[Run]) -> list[GatedNumber]:
    """Max sensitivity, then every other metric the first run describes, each with the floor the gate compares
    it at (a block of the comparison per metric)."""
    others = [GatedNumber(info.label, lambda case, name=name: case.values_of(name), info.rtol, info.atol)
              for name, info in runs[0].metrics.items() if name != "max_sensitivity"]
    return [*GATED_NUMBERS, *others]

MIN_ROUNDS = 5
MORE_ROUNDS = "pytest suites/test_runtime.py --xai-benchmark-rounds 20 --benchmark-json=FILE"


def common_cases(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """The (model, method) pairs every report has, in the first report's order."""
    shared = [key for key in runs[0].cases if all(key in run.cases for run in runs[1:])]
    if not shared:
        names = " and ".join(str(run.path) for run in runs)
        raise XaiEvalError(f"{names} have no (model, method) in common; compare reports of the same suites")
    return shared


def unmatched(runs: Sequence[Run]) -> list[str]:
    """Notes on the (model, method) pairs that some reports lack (left out of the comparison)."""
    shared = set(common_cases(runs))
    notes = []
    for index, run in enumerate(runs):
        only = sorted(f"{model}/{method}" for model, method in run.cases if (model, method) not in shared)
        if only:
            notes.append(f"not in every report, left out: {tag(index)} {', '.join(only)}")
    return notes


def seconds(value: float) -> str:
    """A duration for reading: ``7.49 s``, ``19.3 ms``, ``850 µs``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-6:.3g} µs"


def ratio(value: float, reference: float) -> str:
    """``value`` against ``reference`` as a person reads it: ``73× slower``, ``12× faster``, ``1.3× slower``."""
    factor = value / reference
    word = "slower" if factor >= 1 else "faster"
    factor = max(factor, 1 / factor)
    shown = f"{factor:.0f}" if factor >= 10 else f"{factor:.1f}"
    return "1.0× (same)" if shown == "1.0" else f"{shown}× {word}"


def largest_difference(cases: Sequence[MethodRun], numbers: Callable[[MethodRun], dict[str, float]],
                       rtol: float = SENSITIVITY_RTOL, atol: float = SENSITIVITY_ATOL) -> tuple[float, bool] | None:
    """The largest difference between two runs' values on a photo every run has, and whether any photo's
    difference is above the gate's numeric floor (``atol + rtol * |first run's value|``); None: no such photo."""
    values = [numbers(case) for case in cases]
    photos = [photo for photo in values[0] if all(photo in other for other in values[1:])]
    if not photos:
        return None
    largest, above = 0.0, False
    for photo in photos:
        on_photo = [per_run[photo] for per_run in values]
        spread = max(on_photo) - min(on_photo)
        largest = max(largest, spread)
        above = above or spread > atol + rtol * abs(on_photo[0])
    return largest, above


@dataclass(frozen=True)
class Comparison:
    """The compare table as text cells, and the notes that explain its marks."""

    header: list[str]
    rows: list[list[str]]
    notes: list[str]

    def markdown(self) -> str:
        """A GitHub-flavoured Markdown table, padded so it also reads as plain text."""
        widths = [max(len(row[column]) for row in (self.header, *self.rows)) for column in range(len(self.header))]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

        rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
        return "\n".join([line(self.header), rule, *(line(row) for row in self.rows)]) + "\n"


def _delta_cell(found: tuple[float, bool] | None, judged: bool, code_differs: bool = False) -> str:
    if found is None:
        return ""
    largest, above = found
    if judged:
        mark = " above floor" if above else ""
    else:
        mark = " different code" if code_differs else " n/c"
    return f"{largest:.2g}{mark}"


def comparison(runs: Sequence[Run]) -> Comparison:
    """One row per (model, method): each run's median seconds, the later runs against the first, and the
    largest difference of each gated number across the runs (judged against the numeric floor only when the
    runs did the same work with the same known xai-eval version)."""
    named = headings(runs)
    header = ["model", "method", named[0]]
    for index in range(1, len(runs)):
        header += [named[index], f"{tag(index)} vs {tag(0)}"]
    numbers = gated_numbers(runs)
    header += [f"{number.label} Δ" for number in numbers]
    why_not = [reason for reason in (numerics(runs), "the runs' work differs" if work_differences(runs) else None) if reason]
    code_differs = different_code(runs) is not None
    rows, blank, flagged = [], False, False
    for key in common_cases(runs):
        cases = [run.cases[key] for run in runs]
        row = [*key, seconds(cases[0].median_seconds)]
        for case in cases[1:]:
            row += [seconds(case.median_seconds), ratio(case.median_seconds, cases[0].median_seconds)]
        for number in numbers:
            found = largest_difference(cases, number.values, number.rtol, number.atol)
            blank = blank or found is None
            flagged = flagged or (found is not None and found[1] and not why_not)
            row.append(_delta_cell(found, not why_not, code_differs))
        rows.append(row)
    floors = "; ".join(f"{number.label}: {number.atol:g} + {number.rtol:g} × |{tag(0)}'s value|" for number in numbers[1:])
    notes = [
        f"median time of one attribution call; Δ: the largest difference between two runs on a photo every run has"
        f" (floor: {SENSITIVITY_ATOL:g} + {SENSITIVITY_RTOL:g} × |{tag(0)}'s value|" + (f"; {floors}" if floors else "") + ")"
    ]
    if flagged:
        notes.append("above floor: the runs' numbers differ by more than float rounding should make them")
    if code_differs:
        notes.append("different code: the runs were computed by different code, so a difference may be the code's, not"
                     " the hardware's; compare runs of one commit to measure hardware drift")
    if why_not:
        notes.append(f"{'n/c' if not code_differs else 'not judged'}: not comparable as hardware drift: {'; '.join(why_not)}")
    if blank:
        notes.append(
            "Δ blank: not recorded in every run (max sensitivity is recorded when suites/test_sensitivity.py,"
            " the other metrics when suites/test_metrics.py, runs in the same pytest run as suites/test_runtime.py)"
        )
    return Comparison(header, rows, notes)


def fail_slower_scope(runs: Sequence[Run]) -> tuple[list[int], list[str]]:
    """The later runs ``--fail-slower`` judges (those on the first run's device kind: a GPU run is not a
    slower CPU run), and a note for each other."""
    reference = device_kind(runs[0])
    judged, notes = [], []
    for index, run in enumerate(runs[1:], start=1):
        kind = device_kind(run)
        if kind == reference:
            judged.append(index)
        else:
            notes.append(f"{tag(index)} runs on {kind or '?'}, {tag(0)} on {reference or '?'}")
    return judged, notes


def slower_than(runs: Sequence[Run], percent: float, judged: Sequence[int]) -> list[str]:
    """Descriptions of the cases of the ``judged`` runs slower than the first run by more than ``percent``."""
    slow = []
    for model, method in common_cases(runs):
        base = runs[0].cases[model, method].median_seconds
        for index in judged:
            median = runs[index].cases[model, method].median_seconds
            if median > base * (1 + percent / 100):
                slow.append(f"{model}/{method} {tag(index)} {median:.4g}s vs {base:.4g}s (+{(median / base - 1):.0%})")
    return slow


def too_few_rounds(runs: Sequence[Run], indices: Sequence[int], least: int = MIN_ROUNDS) -> list[str]:
    """Per run of ``indices``, the compared cases timed over fewer than ``least`` rounds (or an unrecorded number)."""
    notes = []
    shared = common_cases(runs)
    for index in indices:
        run = runs[index]
        short = {key: run.cases[key].rounds for key in shared if (run.cases[key].rounds or 0) < least}
        counts = {"?" if rounds is None else str(rounds) for rounds in short.values()}
        if len(short) == len(shared) and len(counts) == 1:
            listed = f"all {len(shared)} compared cases have {counts.pop()} rounds"
        else:
            listed = ", ".join(f"{model}/{method} ({'?' if r is None else r})" for (model, method), r in short.items())
        if short:
            notes.append(f"{tag(index)} {run.path}: {listed}")
    return notes
