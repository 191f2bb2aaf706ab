"""Program output shown in README.md and docs/, regenerated from real runs (as pytest's regendoc does).

    python tools/docs_outputs.py --check [--gate FILE] [--reseeded FILE]
    python tools/docs_outputs.py --write  --gate FILE  --reseeded FILE

A generated region sits between ``<!-- output: NAME -->`` and ``<!-- output end -->`` in a page. Each NAME
is a recipe: a source, and the lines of it that the page shows (``...`` where lines are left out). Sources:

    gate      the terminal output of the default gate, ``python -m pytest suites/ --xai-strict`` (a file)
    reseeded  ``python -m pytest suites/ -k IG-coffee --xai-seed 1 --xai-paired-reruns`` (a file; that run
              fails: another seed moves every number)
    compare   ``xai-eval compare`` of the committed H100 and CPU runs (run here, from the repository root)

``--write`` replaces each region with its source's lines, verbatim. ``--check`` compares them after masking
what varies by machine (seconds, thread and core counts): every word must be the same, and every number
within 1.6e-3 relative (the tightest floor), or one unit of its last printed digit where it shows 3 significant digits or more
(float rounding within the floors moves a printed number that far); numbers both within 1e-6 of zero
(a solver's rounding) agree. It exits 1 with one line per region that differs, and names each region it could
not check because its source was not given. .ci/run gives both files, from its own gate runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("README.md", "docs/user-guide.md", "docs/benchmarks.md", "docs/reference.md", "docs/design.md")
BEGIN = re.compile(r"^(?P<indent> *)<!-- output: (?P<name>[a-z0-9-]+) -->$")
END = "<!-- output end -->"
GAP = "..."
ROW = r"^efficientnet_lite0\s+{method}\s+{image}\s"
COMPARE_RUNS = ("benchmarks/results/h100_quick.json", "benchmarks/results/cpu_quick_2threads.json",
                "benchmarks/results/cpu_quick_1thread.json")
MASKS = (
    (re.compile(r"\b(pass|fail|xfail|skip)(\s+)\d+(\.\d+)?$"), r"\1\2<seconds>"),  # the seconds column
    (re.compile(r"in \d+(\.\d+)? s\b"), "in <seconds> s"),
    (re.compile(r"\d+ torch thread\(s\) per process \(\d+ usable core\(s\) / \d+ worker\(s\)\)"),
     "<threads> torch thread(s) per process (<cores> usable core(s) / <workers> worker(s))"),
)
RELATIVE = 1.6e-3
"""How far a number may move relatively: the tightest relative floor (max sensitivity's, RIS's, infidelity's)."""
NUMBER = re.compile(r"[-+]?\d+(?:\.(\d+))?(?:e[-+]?\d+)?")


@dataclass(frozen=True)
class Recipe:
    source: str
    """gate, reseeded or compare."""
    lines: tuple[str, ...]
    """Patterns, each matching the next line shown (searched forward), or GAP; empty: the whole output."""
    fence: bool = True


def _max_sensitivity(*rows: tuple[str, str]) -> tuple[str, ...]:
    return (r"^=+ xai-eval max sensitivity", r"^model\s", r"^-{6}", *(ROW.format(method=re.escape(m), image=i) for m, i in rows))


RECIPES: dict[str, Recipe] = {
    "readme-summary": Recipe("gate", (
        *_max_sensitivity(("GradientSHAP", "cat"), ("IG", "cat")), GAP,
        r"^=+ xai-eval metrics", r"^model\s", r"^-{6}", ROW.format(method="GradientSHAP", image="cat"), GAP,
        r"^xai-eval: \d+ of \d+ case\(s\) changed", r"^xai-eval: seed ",
    )),
    "guide-summary": Recipe("gate", (
        *_max_sensitivity(("GradientSHAP", "cat"), ("GuidedBackprop", "cat"), ("IG", "cat"), ("IG-SG", "cat")), GAP,
        r"^xai-eval: \d+ loose number\(s\)", r"^  efficientnet_lite0-IG-SG-cat: relative spread", GAP,
        r"^xai-eval: \d+ of \d+ case\(s\) changed", r"^xai-eval: seed ",
    )),
    "guide-changed": Recipe("reseeded", (
        r"^xai-eval: \d+ of \d+ case\(s\) changed", r"^  quick/efficientnet_lite0/IG/coffee: ", r"^xai-eval: paired reruns: ",
    )),
    "guide-failing": Recipe("reseeded", (r"^=+ xai-eval failing cases", r"^quick/efficientnet_lite0/IG/coffee: ")),
    "benchmarks-compare": Recipe("compare", (), fence=False),
}


@dataclass(frozen=True)
class Region:
    page: Path
    name: str
    start: int
    """Index of the BEGIN line."""
    stop: int
    """Index of the END line."""
    text: list[str]
    """The region's lines, without the indent."""
    indent: str
    """The BEGIN line's indent (a region inside a list item), which every line of the region has."""


def regions(page: Path) -> list[Region]:
    """The generated regions of ``page``; a BEGIN without its END, or an unknown NAME, is an error."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found, index = [], 0
    while index < len(lines):
        begin = BEGIN.match(lines[index])
        if begin:
            name = begin["name"]
            if name not in RECIPES:
                raise SystemExit(f"{page.relative_to(ROOT)}:{index + 1}: unknown output {name!r}; known: {', '.join(RECIPES)}")
            indent = begin["indent"]
            try:
                stop = lines.index(indent + END, index + 1)
            except ValueError:
                raise SystemExit(f"{page.relative_to(ROOT)}:{index + 1}: output {name!r} has no {END!r}") from None
            text = [line[len(indent):] if line.startswith(indent) else line for line in lines[index + 1 : stop]]
            found.append(Region(page, name, index, stop, text, indent))
            index = stop
        index += 1
    return found


def select(output: str, patterns: Sequence[str], where: str) -> list[str]:
    """The lines of ``output`` that ``patterns`` pick, in order, with GAP where lines are left out."""
    lines = output.splitlines()
    if not patterns:
        return lines
    chosen, at = [], 0
    for pattern in patterns:
        if pattern == GAP:
            chosen.append(GAP)
            continue
        regex = re.compile(pattern)
        hit = next((i for i in range(at, len(lines)) if regex.search(lines[i])), None)
        if hit is None:
            raise LookupError(f"{where}: the run prints no line matching {pattern!r} (after its line {at})")
        chosen.append(lines[hit])
        at = hit + 1
    return chosen


def compare_output() -> str:
    """What ``xai-eval compare`` prints for the committed runs, as the page shows it (legend, table, notes)."""
    from xai_eval.report.cli import main

    buffer = io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(buffer):  # the runs' paths as the page prints them
        code = main(["compare", *COMPARE_RUNS])
    if code != 0:
        raise SystemExit(f"xai-eval compare {' '.join(COMPARE_RUNS)} exited {code}")
    legend, table, notes = buffer.getvalue().strip("\n").split("\n\n", 2)
    return "\n".join(["```", legend, "```", "", table, "", *(f"* {note}" for note in notes.splitlines())])


def rendered(name: str, sources: dict[str, str]) -> list[str] | None:
    """The region's lines from its source, or None where the source was not given."""
    recipe = RECIPES[name]
    if recipe.source not in sources:
        return None
    lines = select(sources[recipe.source], recipe.lines, f"output {name}")
    return ["```", *lines, "```"] if recipe.fence else lines


def _masked(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line


def _numbers_agree(shown: str, fresh: str) -> bool:
    """Within RELATIVE, or one unit of the shown number's last digit where it shows 3 or more significant
    digits (two roundings of nearly equal values differ by one unit; a short number such as 0.001 is exact)."""
    a, b = float(shown), float(fresh)
    if abs(a) <= 1e-6 and abs(b) <= 1e-6:  # rounding-sized (a solver's ~1e-8): below every floor, machine-dependent
        return True
    digits = NUMBER.fullmatch(shown)
    significant = len(shown.lstrip("+-").replace(".", "").lstrip("0"))
    unit = 10.0 ** -len(digits[1]) if digits and digits[1] and "e" not in shown.lower() and significant >= 3 else 0.0
    return abs(a - b) <= max(RELATIVE * abs(b), 1.0001 * unit)


def same_line(shown: str, fresh: str) -> bool:
    """Equal after masking, words verbatim and numbers within the tolerance."""
    shown, fresh = _masked(shown), _masked(fresh)
    if NUMBER.sub("#", shown) != NUMBER.sub("#", fresh):
        return False
    return all(_numbers_agree(a.group(), b.group()) for a, b in zip(NUMBER.finditer(shown), NUMBER.finditer(fresh), strict=True))


def differences(region: Region, fresh: list[str]) -> str | None:
    """None if the page's region shows ``fresh``; else where it first differs."""
    where = f"{region.page.relative_to(ROOT)}:{region.start + 2}"
    for index, (shown, new) in enumerate(zip(region.text, fresh)):
        if not same_line(shown, new):
            return f"{where}: output {region.name}, line {index + 1}: the page shows {shown.strip()!r}, the run prints {new.strip()!r}"
    if len(region.text) != len(fresh):
        return f"{where}: output {region.name}: the page shows {len(region.text)} lines, the run gives {len(fresh)}"
    return None


def _sources(gate: Path | None, reseeded: Path | None, compare: Callable[[], str] = compare_output) -> dict[str, str]:
    sources = {"compare": compare()}
    for name, path in (("gate", gate), ("reseeded", reseeded)):
        if path is not None:
            sources[name] = path.read_text(encoding="utf-8")
    return sources


def run(sources: dict[str, str], *, write: bool, pages: Sequence[str] = PAGES,
        only: Sequence[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """Check (or write) every region of ``pages`` (or those named ``only``): (problems, regions checked, regions
    not checked)."""
    problems, checked, unchecked = [], [], []
    for name in pages:
        page = ROOT / name
        lines = page.read_text(encoding="utf-8").splitlines()
        for region in reversed(regions(page)):
            if only is not None and region.name not in only:
                continue
            label = f"{name}: {region.name}"
            try:
                fresh = rendered(region.name, sources)
            except LookupError as exc:
                checked.append(label)
                problems.append(f"{name}:{region.start + 2}: {exc}")
                continue
            if fresh is None:
                unchecked.append(f"{label} (needs --{RECIPES[region.name].source} FILE)")
                continue
            checked.append(label)
            if write:
                lines[region.start + 1 : region.stop] = [region.indent + line if line else line for line in fresh]
            elif (problem := differences(region, fresh)) is not None:
                problems.append(problem)
        if write:
            page.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return problems, sorted(checked), sorted(unchecked)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 where a page shows other output than the run")
    mode.add_argument("--write", action="store_true", help="rewrite every region whose source is given")
    parser.add_argument("--gate", type=Path, help="the default gate's terminal output")
    parser.add_argument("--reseeded", type=Path, help="the reseeded one-case run's terminal output")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    problems, checked, unchecked = run(_sources(args.gate, args.reseeded), write=args.write)
    for problem in problems:
        print(problem)
    print(f"{'wrote' if args.write else 'checked'} {len(checked)} output region(s): {', '.join(checked)}")
    if unchecked:
        print(f"not {'written' if args.write else 'checked'}: {', '.join(unchecked)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
