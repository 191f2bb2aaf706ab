"""``xai-eval report``: the study's Table I (pandas) and Fig. 1 (Captum's visualisation) from a run."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.records.maps import EXTRA_INFO_KEY
from xai_eval.report.fields import REMAKE
from xai_eval.report.runs import MethodRun, Run

SANITY_ROWS = {
    "well_formed": "well-formed",
    "completeness": "completeness",
    "conservation": "LRP conservation (bias-free)",
    "randomization": "randomisation test",
    "deterministic": "deterministic",
    "target_dependence": "target dependence",
}


def _method_order(run: Run, model: str) -> list[str]:
    from xai_eval.explain.methods import METHODS

    present = [method for (m, method) in run.cases if m == model]
    known = [name for name in METHODS if name in present]
    return known + sorted(set(present) - set(known))


INCONCLUSIVE_OUTCOMES = frozenset({"skipped", "inconclusive"})
"""A sanity check that recorded its numbers and then skipped ran and could not decide: its skip is an
``inconclusive:`` one (a case that could not run records no check)."""


def _sanity_cell(case: MethodRun, check: str) -> str:
    outcomes = [checks[check]["outcome"] for checks in case.sanity.values() if check in checks]
    if not outcomes:
        return ""
    passed = sum(outcome in ("passed", "xpassed") for outcome in outcomes)  # xpassed: a shipped known failure passed
    inconclusive = sum(outcome in INCONCLUSIVE_OUTCOMES for outcome in outcomes)
    xfailed = sum(outcome == "xfailed" for outcome in outcomes)
    if inconclusive == len(outcomes):
        return f"{inconclusive}/{len(outcomes)} inconclusive"
    text = f"{passed}/{len(outcomes)} pass" + (f", {inconclusive} inconclusive" if inconclusive else "")
    return text + (f" ({xfailed} known failure)" if xfailed else "")


def ranks(means: list[float | None], lower_is_better: bool) -> list[int | None]:
    """Competition ranks of ``means`` (1 = best; equal values share a rank); None where a method has no value."""
    present = [value for value in means if value is not None]
    return [None if value is None else 1 + sum((other < value) if lower_is_better else (other > value) for other in present)
            for value in means]


def table(run: Run):  # -> pandas.DataFrame
    """Table I: methods as columns; rows for max sensitivity (mean and per image), every other metric's mean,
    the methods' rank under each metric side by side (1 = best), median runtime and sanity results."""
    import pandas as pd

    frames = []
    for model in sorted({model for model, _ in run.cases}):
        methods = _method_order(run, model)
        cases = [run.cases[model, method] for method in methods]
        images = sorted({image for case in cases for image in case.max_sensitivity})
        rows: dict[str, list[object]] = {"max sensitivity (mean)": [case.mean_sensitivity for case in cases]}
        for image in images:
            rows[f"max sensitivity [{image}]"] = [case.max_sensitivity.get(image) for case in cases]
        others = {name: info for name, info in run.metrics.items() if name != "max_sensitivity"}
        for name, info in others.items():
            rows[f"{info.label} (mean)"] = [case.mean_of(name) for case in cases]
        for name, info in run.metrics.items():
            if info.lower_is_better is not None and any(case.values_of(name) for case in cases):
                better = "lower" if info.lower_is_better else "higher"
                ranked = ranks([case.mean_of(name) for case in cases], info.lower_is_better)
                rows[f"rank: {info.label} ({better} is better)"] = ["" if r is None else str(r) for r in ranked]
        rows["median runtime (s)"] = [case.median_seconds for case in cases]
        for check, label in SANITY_ROWS.items():
            cells = [_sanity_cell(case, check) for case in cases]
            if any(cells):
                rows[label] = cells
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=methods)
        frame.index = pd.MultiIndex.from_product([[model], frame.index], names=["model", "metric"])
        frames.append(frame)
    return pd.concat(frames)


def format_value(value: object) -> str:
    """A table cell: floats to 3 decimals (small ones in e-notation), nothing for None or NaN."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) >= 0.001 else f"{value:.2e}"
    return str(value)


def to_markdown(frame) -> str:  # frame: pandas.DataFrame
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    header = ["model", "metric", *frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (model, metric), row in frame.iterrows():
        lines.append("| " + " | ".join([model, metric, *(format_value(v) for v in row.tolist())]) + " |")
    return "\n".join(lines) + "\n"


def _photo(run: Run, name: str, shape: tuple[int, ...]):  # -> numpy.ndarray, H x W x 3 in [0, 1]
    """The image ``name`` ("model/image") as the model saw it, from the report; mid-grey if the report lacks it."""
    import binascii

    import numpy as np
    from PIL import Image, UnidentifiedImageError

    encoded = run.images_png_base64.get(name)
    if encoded is None:
        return np.full((*shape, 3), 0.5, dtype=np.float32)
    try:
        with Image.open(io.BytesIO(base64.b64decode(encoded, validate=True))) as photo:
            image = np.asarray(photo.convert("RGB"), dtype=np.float32) / 255
    except (binascii.Error, ValueError, OSError, UnidentifiedImageError):
        image = None
    if image is None or image.shape[:2] != tuple(shape):
        raise XaiEvalError(
            f"{run.path}: '{EXTRA_INFO_KEY}.images_png_base64.{name}' is not a base64 PNG of {shape[0]}x{shape[1]} pixels"
            f" (the attribution's shape); {REMAKE}"
        )
    return image


def figure(run: Run, model: str, path: Path, columns: int = 4) -> None:
    """Fig. 1: per method, the positive heat map and the blended heat map over the image."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from captum.attr import visualization
    from matplotlib.figure import Figure

    from xai_eval.records.maps import decode_map

    methods = _method_order(run, model)
    cases = [run.cases[model, method] for method in methods]
    sections = -(-len(cases) // columns)
    fig = Figure(figsize=(4 * columns, 8 * sections), dpi=100)
    axes = fig.subplots(2 * sections, columns, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, case in enumerate(cases):
        saliency = decode_map(case.attribution)[..., None]
        image = _photo(run, f"{model}/{case.image}", saliency.shape[:2])
        row, column = 2 * (index // columns), index % columns
        for offset, (method, title) in enumerate((("heat_map", case.method), ("blended_heat_map", f"{case.method} (blended)"))):
            ax = axes[row + offset, column]
            visualization.visualize_image_attr(
                saliency, image, method=method, sign="positive", plt_fig_axis=(fig, ax), use_pyplot=False,
                title=title, show_colorbar=False, cmap="Greens" if method == "heat_map" else None,
            )
            ax.title.set_fontsize(14)
    fig.suptitle(f"{model}: positive attributions on '{cases[0].image}' ({run.profile} profile)", fontsize=16)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path)


def write_report(run: Run, out: Path) -> list[Path]:
    """Write table.md, table.csv and fig1.png (one fig1-MODEL.png per further model) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frame = table(run)
    written = [out / "table.md", out / "table.csv"]
    written[0].write_text(to_markdown(frame), encoding="utf-8")
    frame.to_csv(written[1])
    for index, model in enumerate(sorted({model for model, _ in run.cases})):
        path = out / ("fig1.png" if index == 0 else f"fig1-{model}.png")
        figure(run, model, path)
        written.append(path)
    return written
