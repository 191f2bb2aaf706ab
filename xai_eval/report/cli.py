"""The ``xai-eval`` command: ``report`` and ``compare`` over pytest-benchmark JSON reports, ``snapshots``
over a results file, and ``profiles``, the effective settings of run profiles."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.report.compare import (
    MIN_ROUNDS, MORE_ROUNDS, common_cases, comparison, differences, metric_tables, slower_than, tag, too_few_rounds,
    unmatched,
)
from xai_eval.report.runs import Run, load_run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xai-eval", description="Reports from `pytest suites/ --benchmark-json=RUN.json`.")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="Table I (table.md, table.csv) and Fig. 1 (fig1.png) of one run")
    report.add_argument("run", type=Path, metavar="RUN.json")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    snapshots = commands.add_parser(
        "snapshots", help="draw each changed explanation next to its snapshot, from `pytest suites/ --xai-results RESULTS.json`"
    )
    snapshots.add_argument("results", type=Path, metavar="RESULTS.json")
    snapshots.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    compare = commands.add_parser("compare", help="runtime, max sensitivity and every other metric per method across runs")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN.json", help="the first is the reference")
    compare.add_argument(
        "--fail-slower", type=float, default=None, metavar="PCT",
        help="exit 1 if any method is slower than in the first report by more than PCT percent"
        f" (needs >= {MIN_ROUNDS} timed rounds per case in every report)",
    )
    compare.add_argument(
        "--allow-different", action="store_true",
        help="compare reports whose profile, device, models, torch threads or seed differ (e.g. CPU vs GPU speed-ups)",
    )
    profiles = commands.add_parser(
        "profiles", help="the effective settings of run profiles, built-in and the project's, as a Markdown table"
    )
    profiles.add_argument("names", nargs="*", metavar="NAME", help="profiles to show (default: all)")
    profiles.add_argument(
        "--pyproject", type=Path, default=None, metavar="FILE",
        help="the project's pyproject.toml with [tool.xai_eval.profiles] (default: ./pyproject.toml if there is one)",
    )
    return parser


def _output_folder(out: Path) -> None:
    """Create ``--out`` (and its parents), or say in one line why it cannot be."""
    if out.exists() and not out.is_dir():
        raise XaiEvalError(f"--out {out}: is a file, not a folder; give a folder path")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise XaiEvalError(f"--out {out}: cannot create this folder ({exc.strerror}); give a folder path that can be created") from None


def _report(args: argparse.Namespace) -> int:
    from xai_eval.report.tables import table, to_markdown, write_report

    run = load_run(args.run)
    _output_folder(args.out)
    try:
        written = write_report(run, args.out)
    except OSError as exc:
        raise XaiEvalError(f"--out {args.out}: cannot write {exc.filename or 'there'} ({exc.strerror}); give a writable folder") from None
    print(to_markdown(table(run)))
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _snapshots(args: argparse.Namespace) -> int:
    from xai_eval.report.snapshots import changed_cases, write_snapshot_figures

    changed_cases(args.results)  # a bad file is reported before any folder is made
    _output_folder(args.out)
    written = write_snapshot_figures(args.results, args.out)
    print("wrote " + ", ".join(str(path) for path in written) if written else f"{args.results}: no snapshot changed")
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from xai_eval.gate.profile_table import chosen, project_profiles, settings_table

    default = Path("pyproject.toml")
    pyproject = args.pyproject if args.pyproject is not None else default if default.is_file() else None
    print(settings_table(chosen(project_profiles(pyproject), args.names)), end="")
    return 0


def _check_comparable(runs: list[Run], allow_different: bool) -> list[str]:
    """How the later reports' setups differ from the first's; an error unless ``--allow-different``."""
    common_cases(runs)  # nothing in common is an error even with --allow-different
    differ = differences(runs)
    if differ and not allow_different:
        raise XaiEvalError(f"compare: {'; '.join(differ)}; pass --allow-different to compare them anyway")
    return differ


def _compare(args: argparse.Namespace) -> int:
    import pandas as pd

    if len(args.runs) < 2:
        raise XaiEvalError("compare: give at least two reports (the first is the reference)")
    if args.fail_slower is not None and args.fail_slower < 0:
        raise XaiEvalError(f"--fail-slower: {args.fail_slower} is negative; give a percentage such as 10")
    runs = [load_run(path) for path in args.runs]
    differ = _check_comparable(runs, args.allow_different)
    if args.fail_slower is not None and (short := too_few_rounds(runs)):
        raise XaiEvalError(
            f"--fail-slower: too few timed rounds to judge (fewer than {MIN_ROUNDS}): {'; '.join(short)};"
            f" time more with: {MORE_ROUNDS}"
        )
    for index, run in enumerate(runs):
        print(f"[{tag(index)}] {run.path}: {run.machine_line()} (profile {run.profile})")
    for line in differ:
        print(f"--allow-different: {line}")
    print()
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:.4g}".format):
        print(comparison(runs).to_string())
        for label, frame in metric_tables(runs).items():
            print(f"\n{label}, mean over the images every report has:")
            print(frame.to_string())  # type: ignore[attr-defined]
    for line in unmatched(runs):
        print(line)
    if args.fail_slower is not None:
        slow = slower_than(runs, args.fail_slower)
        if slow:
            print(f"\nslower than [A] by more than {args.fail_slower:g}%: " + "; ".join(slow), file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"report": _report, "snapshots": _snapshots, "compare": _compare, "profiles": _profiles}[args.command](args)
    except XaiEvalError as exc:
        print(f"xai-eval: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
