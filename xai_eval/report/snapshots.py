"""Draw each changed explanation next to its snapshot, from a gate run's results file (``--xai-results``).

Reads only the results JSON: a changed snapshot carries both maps there, so this needs neither the model
nor the snapshots folder.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.report.run_files import read_results

RERUN = "re-create it with: pytest suites/ --xai-results RESULTS.json"


def changed_cases(path: Path) -> list[dict[str, Any]]:
    """The case records of ``path`` whose snapshot changed beyond the numeric floor; one-line errors for a file that
    is not a results file."""
    data = read_results(path).data  # the one reader of results files: an unknown schema is refused as everywhere
    changed = [case for case in data["cases"] if isinstance(case, dict) and isinstance(case.get("snapshot"), dict)
               and case["snapshot"].get("meaning") not in (None, "", "unchanged")]
    for case in changed:
        snap = case["snapshot"]
        if not all(isinstance(snap.get(k), dict) for k in ("values", "stored")) or not all(
            isinstance(snap.get(k), (int, float)) for k in ("scale", "stored_scale")
        ):
            raise XaiEvalError(f"{path}: the changed snapshot of {case.get('method')}/{case.get('image')} lacks its maps or scales; {RERUN}")
    return changed


def draw(case: dict[str, Any], path: Path) -> None:
    """Snapshot | current | current - snapshot, on one colour scale for the first two."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import numpy as np
    from matplotlib.figure import Figure

    from xai_eval.records.maps import decode_array

    snap = case["snapshot"]
    stored = decode_array(snap["stored"]).astype(np.float64) * snap["stored_scale"]
    current = decode_array(snap["values"]).astype(np.float64) * snap["scale"]
    limit = max(float(np.abs(stored).max()), float(np.abs(current).max())) or 1.0
    fig = Figure(figsize=(12, 4.4), dpi=100)
    axes = fig.subplots(1, 3)
    for ax, values, title in ((axes[0], stored, "snapshot"), (axes[1], current, "current"), (axes[2], current - stored, "current - snapshot")):
        ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title)
        ax.axis("off")
    title = f"{case['profile']}/{case['model']}/{case['method']}/{case['image']}: {snap['detail']}"
    lines = textwrap.wrap(title, 140)  # a long detail would run off the figure
    fig.suptitle("\n".join(lines), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93 - 0.04 * (len(lines) - 1)))
    fig.savefig(path)


def write_snapshot_figures(results: Path, out: Path) -> list[Path]:
    """One PNG per changed snapshot in ``out``; the list of files written (empty if none changed)."""
    written = []
    for case in changed_cases(results):
        path = out / f"snapshot-{case['model']}-{case['method']}-{case['image']}.png"
        draw(case, path)
        written.append(path)
    return written
