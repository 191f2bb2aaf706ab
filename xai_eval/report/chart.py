"""The runtime chart of several runs: median seconds per method, one bar per machine, log scale."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xai_eval.files import atomic_write_bytes
from xai_eval.report.compare import common_cases, seconds
from xai_eval.report.runs import Run
from xai_eval.report.setups import hardware, headings

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def _machine(run: Run) -> str:
    described = hardware(run)
    return f"{described['processor']} ({described['threads'] or '? threads'})"


def runtime_figure(runs: Sequence[Run]) -> Figure:
    """Median seconds of one attribution call per (model, method) every run has: a group of bars per method,
    one bar per run (labelled with what differs between the machines), on a log scale."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    cases = common_cases(runs)
    several_models = len({model for model, _ in cases}) > 1
    labels = [f"{model}\n{method}" if several_models else method for model, method in cases]
    fig = Figure(figsize=(max(8.0, 1.1 * len(cases) + 2), 6.0), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(runs)
    for index, (run, heading) in enumerate(zip(runs, headings(runs), strict=True)):
        medians = [run.cases[key].median_seconds for key in cases]
        offsets = [position - 0.4 + width * (index + 0.5) for position in range(len(cases))]
        bars = ax.bar(offsets, medians, width, label=heading)
        ax.bar_label(bars, [seconds(median) for median in medians], rotation=90, padding=2, fontsize=7)
    ax.set_yscale("log")
    ax.margins(y=0.15)  # room for the labels above the tallest bars
    tilt = len(cases) > 6
    ax.set_xticks(range(len(cases)), labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_ylabel("median seconds per attribution call (log scale)")
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", fontsize=8)
    profiles = sorted({run.profile for run in runs})
    title = " vs ".join(_machine(run) for run in runs)
    fig.suptitle("\n".join(textwrap.wrap(f"{title} ({', '.join(profiles)} profile)", 110)), fontsize=10)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def write_runtime_chart(runs: Sequence[Run], path: Path) -> None:
    """Render the chart to PNG bytes, then write them atomically to ``path``."""
    atomic_write_bytes(path, png_bytes(runtime_figure(runs)))
