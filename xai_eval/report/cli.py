"""The ``xai-eval`` command: ``report`` and ``compare`` over pytest-benchmark JSON reports."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from xai_eval.errors import XaiEvalError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xai-eval", description="Reports from `pytest suites/ --benchmark-json=RUN.json`.")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="Table I (table.md, table.csv) and Fig. 1 (fig1.png) of one run")
    report.add_argument("run", type=Path, metavar="RUN.json")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    compare = commands.add_parser("compare", help="runtime and max sensitivity per method across runs")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN.json", help="the first is the reference")
    compare.add_argument(
        "--fail-slower", type=float, default=None, metavar="PCT",
        help="exit 1 if any method is slower than in the first report by more than PCT percent",
    )
    return parser


def _report(args: argparse.Namespace) -> int:
    from xai_eval.report.tables import table, to_markdown, write_report
    from xai_eval.report.runs import load_run

    run = load_run(args.run)
    written = write_report(run, args.out)
    print(to_markdown(table(run)))
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from xai_eval.report.compare import comparison, slower_than, unmatched
    from xai_eval.report.runs import load_run

    if len(args.runs) < 2:
        raise XaiEvalError("compare: give at least two reports (the first is the reference)")
    if args.fail_slower is not None and args.fail_slower < 0:
        raise XaiEvalError(f"--fail-slower: {args.fail_slower} is negative; give a percentage such as 10")
    runs = [load_run(path) for path in args.runs]
    for index, run in enumerate(runs):
        print(f"[{chr(ord('A') + index)}] {run.path}: {run.machine_line()} (profile {run.profile})")
    print()
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:.4g}".format):
        print(comparison(runs).to_string())
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
        return _report(args) if args.command == "report" else _compare(args)
    except XaiEvalError as exc:
        print(f"xai-eval: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
