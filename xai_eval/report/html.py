"""``report.html``: one self-contained page a team opens (CI publishes it as an artifact).

Table I, every case's verdict and numbers (from the run's results file), each changed snapshot beside its
accepted version, the heat-map figure and the runtime table, of a single run or of merged shards. Standard
library HTML (string templates, ``html.escape``), no script, no external style sheet; the figures are PNGs
embedded as data URIs, so it needs no network and no other file.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from xai_eval.files import atomic_write_text
from xai_eval.report.run_files import RunFile, case_name
from xai_eval.report.runs import Run
from xai_eval.report.tables import format_value, table

HEADER_COLOUR = "#1f3a5f"
"""The header rows of every table (the browser test finds Table I in a screenshot by it)."""
RUN_FIELDS = (("seed", "seed"), ("device", "device"), ("threads", "torch threads"), ("workers", "xdist workers"))
GOOD = frozenset({"pass", "passed", "updated", "unchanged", "xfailed", "xpassed"})
BAD = frozenset({"fail", "failed", "changed", "missing", "invalid", "error"})
"""How a recorded status word is coloured (green, red; anything else grey). The words are the gate's."""

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xai-eval report: $title</title>
<style>
body { font-family: sans-serif; margin: 24px; color: #111; background: #fff; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 13px; }
th, td { border: 1px solid #999; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: $header; color: #fff; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.good { background: #d9f2d9; } .bad { background: #f8d0d0; } .other { background: #eee; }
p.run, p.source, p.shards { margin: 2px 0; }
small { color: #444; }
img { max-width: 100%; border: 1px solid #ccc; }
</style>
</head>
<body>
<h1>xai-eval report: $title</h1>
<p class="run">$run</p>
<p class="shards">$shards</p>
<p class="source">$source</p>
<h2 id="table-i">Table I</h2>
$table_i
<h2 id="cases">Every case</h2>
$cases
<h2 id="snapshots">Changed snapshots</h2>
$snapshots
<h2 id="heat-maps">Heat maps</h2>
$figures
<h2 id="runtime">Runtime</h2>
$runtime
</body>
</html>
""")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of already escaped cells (a cell that is a ``<td ...>`` is kept as it is)."""
    head = "".join(f"<th>{cell}</th>" for cell in header)
    body = "".join("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"<td>{escape(format_value(value))}</td>"
    return f'<td class="number">{value:.4g}</td>' if isinstance(value, float) else f'<td class="number">{value}</td>'


def _status(word: str, detail: str = "") -> str:
    kind = "good" if word in GOOD else "bad" if word in BAD else "other"
    more = f"<br><small>{escape(detail)}</small>" if detail else ""
    return f'<td class="{kind}">{escape(word)}{more}</td>'


def _png(draw: Any) -> str:
    """An ``<img>`` of what ``draw(file)`` saves as PNG."""
    buffer = io.BytesIO()
    draw(buffer)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table_i(run: Run) -> str:
    frame = table(run)
    rows = [[escape(str(model)), escape(str(metric)), *(_number(v) for v in values.tolist())]
            for (model, metric), values in frame.iterrows()]
    return _table(["model", "metric", *map(escape, frame.columns)], rows)


def _sanity(checks: dict[str, Any]) -> str:
    lines = []
    for check, values in sorted(checks.items()):
        numbers = ", ".join(f"{name} {format_value(v) if isinstance(v, float) else v}"
                            for name, v in values.items() if name != "outcome" and not isinstance(v, dict | list))
        lines.append(f"{escape(check)}: <b>{escape(str(values.get('outcome', '')))}</b>"
                     + (f" <small>({escape(numbers)})</small>" if numbers else ""))
    return "<br>".join(lines)


def _metrics(metrics: dict[str, Any]) -> str:
    """Every other metric of a case: its value, and its status and what a change means."""
    lines = []
    for name, m in metrics.items():
        change = m.get("meaning", "") + (f" {m['sds']:+.3g} sd" if isinstance(m.get("sds"), float) else "")
        verdict = " ".join(filter(None, (m.get("status", ""), change if change not in ("", "unchanged") else "")))
        lines.append(f"{escape(name)} {_number(m.get('value'))}" + (f" <small>({escape(verdict)})</small>" if verdict else ""))
    return "<br>".join(lines)


def _cases(results: RunFile | None) -> str:
    if results is None:
        return ("<p>Every case's verdict needs the run's results file: run the gate with "
                "<code>--xai-results RESULTS.json</code> and report with <code>--results RESULTS.json</code>.</p>")
    rows = []
    for case in results.data["cases"]:
        m = case.get("max_sensitivity", {})
        change = m.get("meaning", "") + (f" ({m['sds']:.3g} sd)" if isinstance(m.get("sds"), float) else "")
        snap, fingerprint = case.get("snapshot", {}), case.get("fingerprint", {})
        rows.append([
            escape(case_name(case)), _number(m.get("value")), _number(m.get("baseline")), escape(change),
            _status(m["status"]) if "status" in m else "",
            _metrics(case.get("metrics", {})),
            _status(snap["status"], " ".join(filter(None, (snap.get("meaning"), snap.get("detail"))))) if "status" in snap else "",
            _status(fingerprint["status"], fingerprint.get("detail", "")) if "status" in fingerprint else "",
            _sanity(case.get("sanity", {})),
        ])
    return _table(["case", "max sensitivity", "baseline", "change", "status", "other metrics", "snapshot", "fingerprint",
                   "sanity"], rows)


def _snapshots(results: RunFile | None) -> str:
    from xai_eval.report.snapshots import changed_cases, draw

    if results is None:
        return "<p>Changed snapshots come with the results file (<code>--results RESULTS.json</code>).</p>"
    changed = changed_cases(results.path)
    if not changed:
        return "<p>No snapshot changed.</p>"
    return "\n".join(f"<h3>{escape(case_name(case))}</h3>\n{_png(lambda file, case=case: draw(case, file))}" for case in changed)


NO_BENCHMARK = ("<p>Not in this report: {what} come from the run's benchmark JSON (<code>pytest suites/ --benchmark-json"
                " RUN.json</code>, with <code>suites/test_runtime.py</code> in the run), and this report was made from the"
                " results file alone.</p>")


def _table_i_of_results(results: RunFile) -> str:
    """Table I from a results file: max sensitivity per (model, method) and photo, and their mean."""
    values: dict[tuple[str, str], dict[str, float]] = {}
    for case in results.data["cases"]:
        value = case.get("max_sensitivity", {}).get("value")
        if isinstance(value, (int, float)):
            values.setdefault((case["model"], case["method"]), {})[case["image"]] = float(value)
    if not values:
        return "<p>The results file has no max-sensitivity value (suites/test_sensitivity.py did not run).</p>"
    photos = sorted({photo for row in values.values() for photo in row})
    rows = [[escape(model), escape(method), *(_number(row.get(photo)) for photo in photos),
             _number(sum(row.values()) / len(row))] for (model, method), row in sorted(values.items())]
    return _table(["model", "method", *map(escape, photos), "mean"], rows)


def _runtime(run: Run) -> str:
    rows = [[escape(model), escape(method), escape(case.image), _number(case.median_seconds), _number(case.rounds)]
            for (model, method), case in sorted(run.cases.items())]
    return _table(["model", "method", "image", "median (s)", "timed rounds"], rows)


def _run_line(run: Run | None, results: RunFile | None) -> str:
    """How the run computed (from its results file) and where (the benchmark JSON's machine)."""
    info = results.run if results is not None else {}
    profile = run.profile if run is not None else info.get("profile", "?")
    parts = [f"profile {profile}"] + [f"{name} {info[key]}" for key, name in RUN_FIELDS if key in info]
    versions = ", ".join(f"{name} {version}" for name, version in sorted(info.get("versions", {}).items()))
    code = info.get("code")
    made = "code: " + ", ".join(f"{key} {value}" for key, value in code.items() if value) if isinstance(code, dict) else ""
    machine = run.machine_line() if run is not None else "machine: not known (recorded in the benchmark JSON)"
    return "<br>".join(escape(line) for line in (" · ".join(parts), versions, made, machine) if line)


def html_report(run: Run | None, results: RunFile | None) -> str:
    """The page for ``run`` (a benchmark JSON; None: the results file alone, without runtime and heat maps) and its
    ``results`` file (None: no per-case verdicts)."""
    from xai_eval.report.tables import figure

    if run is None and results is None:
        raise ValueError("a report needs a benchmark JSON, a results file or both")
    shards = results.run.get("shards") if results is not None else None
    sources = ([run.path] if run is not None else []) + ([results.path] if results is not None else [])
    return PAGE.substitute(
        title=escape(f"profile {run.profile if run is not None else results.run.get('profile', '?')}"),  # type: ignore[union-attr]
        header=HEADER_COLOUR,
        run=_run_line(run, results),
        shards=escape(f"merged from {shards} shards" if shards else "one job"),
        source=escape(" and ".join(path.name for path in sources)),
        table_i=_table_i(run) if run is not None else _table_i_of_results(results),  # type: ignore[arg-type]
        cases=_cases(results),
        snapshots=_snapshots(results),
        figures=NO_BENCHMARK.format(what="the heat maps") if run is None else
        "\n".join(_png(lambda file, model=model: figure(run, model, file)) for model in sorted({m for m, _ in run.cases})),
        runtime=NO_BENCHMARK.format(what="the runtimes") if run is None else _runtime(run),
    )


def write_html_report(run: Run | None, results: RunFile | None, out: Path) -> Path:
    """Write ``report.html`` into ``out`` (atomically); its path."""
    path = out / "report.html"
    atomic_write_text(path, html_report(run, results))
    return path
