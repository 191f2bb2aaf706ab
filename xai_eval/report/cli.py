"""The ``xai-eval`` command: ``report`` and ``compare`` over pytest-benchmark JSON reports, ``snapshots``
over a results file, ``merge`` and ``record`` over the files of a run's shards, ``profiles``, the
effective settings of run profiles, and ``init``, a project's gate files."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xai_eval.errors import XaiEvalError
from xai_eval.report.compare import (
    MIN_ROUNDS, MORE_ROUNDS, common_cases, comparison, fail_slower_scope, slower_than, too_few_rounds, unmatched,
)
from xai_eval.report.runs import Run, load_run
from xai_eval.report.setups import tag, work_differences
from xai_eval.version import __version__

if TYPE_CHECKING:
    from xai_eval.report.run_files import RunFile


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xai-eval", description="Reports from `pytest suites/ --benchmark-json=RUN.json`.")
    parser.add_argument("--version", action="version", version=f"xai-eval {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report", help="a run's page (report.html), Table I (table.md, table.csv) and Fig. 1 (fig1.png); with more runs of"
        " the same work, also their comparison (compare.md) and runtime chart (runtime.png); from a results file alone"
        " (--results, no RUN.json), report.html without runtimes and heat maps",
    )
    report.add_argument("runs", type=Path, nargs="*", metavar="RUN.json",
                        help="benchmark JSONs (pytest --benchmark-json); the first is the one reported")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    report.add_argument(
        "--results", type=Path, default=None, metavar="RESULTS.json",
        help="the same run's results file (pytest --xai-results): report.html then shows every case's verdict and"
        " numbers and the changed snapshots; refused if it comes from another run than the first RUN.json",
    )
    snapshots = commands.add_parser(
        "snapshots", help="draw each changed explanation next to its snapshot, from `pytest suites/ --xai-results RESULTS.json`"
    )
    snapshots.add_argument("results", type=Path, metavar="RESULTS.json")
    snapshots.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    compare = commands.add_parser(
        "compare", help="runtime per method across machines (runs of the same work), and how far the gated numbers moved"
    )
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN.json", help="the first is the reference")
    compare.add_argument(
        "--fail-slower", type=float, default=None, metavar="PCT",
        help="exit 1 if any method is slower than in the first report by more than PCT percent, judged for the"
        f" reports on the first one's device kind (needs >= {MIN_ROUNDS} timed rounds per case)",
    )
    compare.add_argument(
        "--allow-different", action="store_true",
        help="compare reports of different work too (profile, seed, models, methods, photos or profile settings);"
        " their gated numbers are then not compared",
    )
    compare.add_argument("--plot", type=Path, default=None, metavar="FILE.png", help="also draw the runtime chart")
    merge = commands.add_parser(
        "merge", help="one run's results file and benchmark JSON from its shards' (pytest suites/ --splits N --group i"
        " --xai-results FILE --benchmark-json FILE)",
    )
    merge.add_argument("files", type=Path, nargs="+", metavar="FILE", help="every shard's results file, and their benchmark JSONs")
    merge.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder: results.json, benchmark.json")
    record = commands.add_parser(
        "record", help="write what a run's shards recorded (pytest suites/ --splits N --group i --xai-update-baselines"
        " --xai-results FILE) into the baselines file and the snapshots folder",
    )
    record.add_argument("files", type=Path, nargs="+", metavar="RESULTS.json", help="every shard's results file")
    record.add_argument("--baselines", type=Path, required=True, metavar="PATH",
                        help="the baselines folder (or max sensitivity's .json file in it) to write into")
    record.add_argument(
        "--snapshots", type=Path, default=None, metavar="DIR", help="the snapshots folder (default: snapshots/ beside the baselines)"
    )
    profiles = commands.add_parser(
        "profiles", help="the effective settings of run profiles, built-in and the project's, as a Markdown table"
    )
    profiles.add_argument("names", nargs="*", metavar="NAME", help="profiles to show (default: all)")
    profiles.add_argument(
        "--pyproject", type=Path, default=None, metavar="FILE",
        help="the project's pyproject.toml with [tool.xai_eval.profiles] (default: ./pyproject.toml if there is one)",
    )
    init = commands.add_parser(
        "init", help="write suites/, a baselines folder and a commented [tool.xai_eval] table into a project (overwrites nothing)"
    )
    init.add_argument("--dir", type=Path, default=Path("."), metavar="DIR", help="the project's folder (default: here)")
    return parser


def _init(args: argparse.Namespace) -> int:
    from xai_eval.report.init import init_project

    for path in init_project(args.dir):
        print(f"wrote {path}")
    print("next: point models at your model in pyproject.toml, then record the baselines with: "
          "pytest suites/test_sensitivity.py suites/test_metrics.py suites/test_snapshot.py --xai-calibrate 5")
    return 0


def _output_folder(out: Path) -> None:
    """Create ``--out`` (and its parents), or say in one line why it cannot be."""
    if out.exists() and not out.is_dir():
        raise XaiEvalError(f"--out {out}: is a file, not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XaiEvalError(f"--out {out}: cannot create this folder ({exc.strerror}); give a folder path that can be created") from None


def _report(args: argparse.Namespace) -> int:
    from xai_eval.report.html import write_html_report
    from xai_eval.report.run_files import read_results
    from xai_eval.report.tables import table, to_markdown, write_report

    if not args.runs and args.results is None:
        raise XaiEvalError("report: give a benchmark JSON (pytest --benchmark-json RUN.json), a results file"
                           " (--results RESULTS.json from pytest --xai-results), or both")
    results = None if args.results is None else read_results(args.results)
    if not args.runs:
        assert results is not None
        _output_folder(args.out)
        written = [write_html_report(None, results, args.out)]
        print(f"{args.results}: a results file alone: report.html without runtimes and heat maps"
              " (they need the run's benchmark JSON)")
        print("wrote " + ", ".join(str(path) for path in written))
        return 0
    runs = [load_run(path) for path in args.runs]
    if len(runs) > 1:
        _same_work(runs, "report", allowed=False, anyway="compare them with: xai-eval compare --allow-different")
    run = runs[0]
    if results is not None:
        _same_run(args.runs[0], results)
    _output_folder(args.out)
    try:
        written = write_report(run, args.out)
        written.append(write_html_report(run, results, args.out))
        if len(runs) > 1:
            written += _write_comparison(runs, args.out)
    except OSError as exc:
        raise XaiEvalError(f"--out {args.out}: cannot write {exc.filename or 'there'} ({exc.strerror}); give a writable folder") from None
    print(to_markdown(table(run)))
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _same_run(benchmark: Path, results: RunFile) -> None:
    """Refuse a results file written by another pytest run than ``benchmark`` (their ``run`` records differ)."""
    from xai_eval.report.run_files import read_run_file

    ran, other = read_run_file(benchmark).run, results.run
    differ = sorted(key for key in set(ran) | set(other) if ran.get(key) != other.get(key))
    if differ:
        detail = "; ".join(f"{key} {other.get(key, '-')!s:.60} vs {ran.get(key, '-')!s:.60}" for key in differ)
        raise XaiEvalError(f"--results {results.path}: from another run than {benchmark} ({detail}); give the results file"
                           " written by the same pytest run (--xai-results beside --benchmark-json)")


def _write_comparison(runs: list[Run], out: Path) -> list[Path]:
    """compare.md (the table and its notes) and runtime.png (the chart) of several runs."""
    from xai_eval.files import atomic_write_text
    from xai_eval.report.chart import write_runtime_chart

    found = comparison(runs)
    legend = "".join(f"* {tag(index)} {run.path.name}: {run.machine_line()}\n" for index, run in enumerate(runs))
    notes = "".join(f"* {note}\n" for note in found.notes + unmatched(runs))
    atomic_write_text(out / "compare.md", f"{legend}\n{found.markdown()}\n{notes}")
    write_runtime_chart(runs, out / "runtime.png")
    return [out / "compare.md", out / "runtime.png"]


def _snapshots(args: argparse.Namespace) -> int:
    from xai_eval.report.snapshots import changed_cases, write_snapshot_figures

    changed_cases(args.results)  # a bad file is reported before any folder is made
    _output_folder(args.out)
    written = write_snapshot_figures(args.results, args.out)
    print("wrote " + ", ".join(str(path) for path in written) if written else f"{args.results}: no snapshot changed")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from xai_eval.files import atomic_write_text
    from xai_eval.report.merge import merge
    from xai_eval.report.run_files import read_run_file

    files = []
    for path in args.files:
        if path.is_file() and path.stat().st_size == 0:
            print(f"{path}: empty, left out (pytest-benchmark < 5 leaves --benchmark-json empty where a shard timed nothing)")
        else:
            files.append(read_run_file(path))
    if not files:
        raise XaiEvalError("merge: every file given is empty; give every shard's results file (pytest --xai-results FILE)")
    results, benchmark = merge(files)
    _output_folder(args.out)
    written = {args.out / "results.json": results, **({args.out / "benchmark.json": benchmark} if benchmark else {})}
    for path, data in written.items():
        try:
            atomic_write_text(path, json.dumps(data, indent=2) + "\n")
        except OSError as exc:
            raise XaiEvalError(f"--out {args.out}: cannot write {path.name} ({exc.strerror}); give a writable folder") from None
    shards = results["run"]["shards"]
    print(f"merged {shards} file(s), {len(results['cases'])} case(s): wrote " + ", ".join(map(str, written)))
    return 0


def _record(args: argparse.Namespace) -> int:
    from xai_eval.config.settings import baselines_file
    from xai_eval.files import check_writable
    from xai_eval.stores.recording import record_baselines, record_snapshots, recorded
    from xai_eval.report.merge import merge_results
    from xai_eval.report.run_files import read_results

    merged = merge_results([read_results(path) for path in args.files])
    where = " + ".join(str(path) for path in args.files)
    values, maps = recorded(merged["cases"], where)
    args.baselines = baselines_file(args.baselines)
    snapshots = args.snapshots if args.snapshots is not None else args.baselines.parent / "snapshots"
    check_writable(args.baselines, "--baselines")
    try:
        if values:
            for file, n_updated, n_new in record_baselines(args.baselines, values).values():
                print(f"baselines written to {file}: {n_updated} updated, {n_new} new")
        if maps:
            n_updated, n_new = record_snapshots(snapshots, maps)
            print(f"snapshots written to {snapshots}: {n_updated} updated, {n_new} new")
    except OSError as exc:
        raise XaiEvalError(f"{exc.filename or snapshots}: cannot be written ({exc.strerror}); give writable --baselines and --snapshots") from None
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from xai_eval.config.profile_table import chosen, project_profiles, settings_table

    default = Path("pyproject.toml")
    pyproject = args.pyproject if args.pyproject is not None else default if default.is_file() else None
    print(settings_table(chosen(project_profiles(pyproject), args.names)), end="")
    return 0


def _same_work(runs: list[Run], command: str, *, allowed: bool, anyway: str) -> list[str]:
    """How the later runs' work differs from the first's; unless ``allowed``, an error that says how to compare
    them ``anyway``."""
    common_cases(runs)  # nothing in common is an error even with --allow-different
    differ = work_differences(runs)
    if differ and not allowed:
        raise XaiEvalError(f"{command}: {'; '.join(differ)}; {anyway}")
    return differ


def _fail_slower_scope(runs: list[Run]) -> tuple[list[int], list[str]]:
    """The runs ``--fail-slower`` judges and notes on the others; an error where it cannot judge any."""
    judged, other_kind = fail_slower_scope(runs)
    if not judged:
        raise XaiEvalError(
            f"--fail-slower: nothing to judge: {'; '.join(other_kind)}; a slowdown is judged only on the same device kind"
            f" (give a first report on the device kind of the others, or leave out --fail-slower)"
        )
    if short := too_few_rounds(runs, [0, *judged]):
        raise XaiEvalError(
            f"--fail-slower: too few timed rounds to judge (fewer than {MIN_ROUNDS}): {'; '.join(short)};"
            f" time more with: {MORE_ROUNDS}"
        )
    return judged, other_kind


def _compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise XaiEvalError("compare: give at least two reports (the first is the reference)")
    if args.fail_slower is not None and args.fail_slower < 0:
        raise XaiEvalError(f"--fail-slower: {args.fail_slower} is negative; give a percentage such as 10")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise XaiEvalError(f"--plot {args.plot}: the chart is a PNG; give a file name ending in .png")
    runs = [load_run(path) for path in args.runs]
    differ = _same_work(
        runs, "compare", allowed=args.allow_different, anyway="pass --allow-different to compare them anyway"
    )
    judged, other_kind = _fail_slower_scope(runs) if args.fail_slower is not None else ([], [])
    for index, run in enumerate(runs):
        print(f"{tag(index)} {run.path}: {run.machine_line()} (profile {run.profile})")
    for line in differ:
        print(f"--allow-different: {line}")
    found = comparison(runs)
    print()
    print(found.markdown())
    for line in found.notes + unmatched(runs):
        print(line)
    if args.plot is not None:
        from xai_eval.report.chart import write_runtime_chart

        try:
            write_runtime_chart(runs, args.plot)
        except OSError as exc:
            raise XaiEvalError(f"--plot {args.plot}: cannot write it ({exc.strerror}); give a writable file path") from None
        print(f"wrote {args.plot}")
    if args.fail_slower is not None:
        for line in other_kind:
            print(f"--fail-slower: not judged: {line}", file=sys.stderr)
        if slow := slower_than(runs, args.fail_slower, judged):
            print(f"\nslower than {tag(0)} by more than {args.fail_slower:g}%: " + "; ".join(slow), file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"report": _report, "snapshots": _snapshots, "compare": _compare, "merge": _merge, "record": _record,
                    "profiles": _profiles, "init": _init}
        return commands[args.command](args)
    except XaiEvalError as exc:
        print(f"xai-eval: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
