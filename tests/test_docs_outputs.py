"""Program output in README.md and docs/ is generated (tools/docs_outputs.py): the compare region is
regenerated here; the gate's regions are checked in .ci/run against its own gate runs. Here: every output
block of a page is a generated region, and a changed message or number makes the check fail."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import docs_outputs  # noqa: E402  (tools/ is not a package)
from docs_outputs import GAP, PAGES, RECIPES, regions, run, same_line  # noqa: E402


def _pages() -> list[Path]:
    return [ROOT / page for page in PAGES]


def test_the_compare_region_shows_what_xai_eval_compare_prints() -> None:
    problems, checked, _ = run(docs_outputs._sources(None, None), write=False)
    assert checked == ["docs/benchmarks.md: benchmarks-compare"] and problems == [], problems


def test_every_recipe_is_used_once_and_every_plain_fence_is_a_region() -> None:
    """A fence without a language is program output; it must be a generated region. Hand-written text
    (a diagram, a file sketch) says its language (text, json, toml, ...)."""
    used = [region.name for page in _pages() for region in regions(page)]
    assert sorted(used) == sorted(RECIPES), used
    for page in _pages():
        lines = page.read_text(encoding="utf-8").splitlines()
        inside = {index for region in regions(page) for index in range(region.start, region.stop)}
        fence, opened = None, False
        for index, line in enumerate(lines):
            if line.strip().startswith("```"):
                if not opened:
                    fence, opened = line.strip(), True
                    if fence == "```" and index not in inside and "<!-- layers:" not in lines[index - 1]:
                        pytest.fail(f"{page.name}:{index + 1}: an output block that is not generated; mark it"
                                    " <!-- output: NAME --> (tools/docs_outputs.py) or give its language")
                else:
                    opened = False


def _source_of(region_text: list[str]) -> str:
    """A region's own lines are a source its recipe can select from (GAP lines and fences left out)."""
    return "\n".join(line for line in region_text if line not in (GAP, "```"))


def _changed(region_text: list[str], patterns: tuple[str, ...], what: str) -> str:
    """The region's own source with one ``what`` (a word or a number) changed in a shown line, after the part
    that the line's selecting pattern matches (so the line is still selected and compared)."""
    lines = [line for line in region_text if line not in (GAP, "```")]
    anchors = [pattern for pattern in patterns if pattern != GAP]
    token = r"[-+]?\d+\.\d+" if what == "number" else r"\b[a-z]{4,}\b"
    for index, (line, pattern) in enumerate(zip(lines, anchors, strict=True)):
        found = re.compile(token).search(line, re.compile(pattern).search(line).end())  # type: ignore[union-attr]
        if found and "thread" not in line:
            new = str(float(found.group()) * 1.5) if what == "number" else found.group().upper()
            lines[index] = line[: found.start()] + new + line[found.end():]
            return "\n".join(lines)
    if what == "number":  # a region without numbers (the failing cases' list): a word
        return _changed(region_text, patterns, "word")
    pytest.fail(f"no {what} to change in {region_text}")


@pytest.mark.parametrize("what", ["word", "number"])
@pytest.mark.parametrize("name", [name for name, recipe in RECIPES.items() if recipe.source != "compare"])
def test_a_changed_word_or_number_in_a_run_fails_the_check_at_its_line(name: str, what: str) -> None:
    page, region = next((page, region) for page in _pages() for region in regions(page) if region.name == name)
    recipe, where = RECIPES[name], [str(page.relative_to(ROOT))]
    assert run({recipe.source: _source_of(region.text)}, write=False, pages=where, only=[name])[0] == []
    changed = _changed(region.text, recipe.lines, what)
    problems = run({recipe.source: changed}, write=False, pages=where, only=[name])[0]
    assert len(problems) == 1 and f"output {name}, line " in problems[0] and "the page shows" in problems[0], problems


def test_a_changed_message_in_the_code_fails_the_compare_region(monkeypatch: pytest.MonkeyPatch) -> None:
    from xai_eval.report import compare

    original = compare.comparison

    def reworded(runs):  # type: ignore[no-untyped-def]
        found = original(runs)
        return compare.Comparison(found.header, found.rows, [note.replace("median time", "median duration") for note in found.notes])

    monkeypatch.setattr(compare, "comparison", reworded)
    monkeypatch.setattr("xai_eval.report.cli.comparison", reworded)
    problems = run(docs_outputs._sources(None, None), write=False)[0]
    assert len(problems) == 1 and "median duration" in problems[0], problems


@pytest.mark.parametrize(
    ("shown", "fresh", "same"),
    [
        ("IG  cat  0.6600  pass    11.2", "IG  cat  0.6600  pass    7.7", True),  # seconds are masked
        ("IG  cat  0.6600  pass    11.2", "IG  cat  0.6601  pass    7.7", True),  # one unit of the last digit
        ("IG  cat  0.6600  pass    11.2", "IG  cat  0.6410  pass    7.7", False),  # a stale value
        ("IG  cat  0.6600  pass    11.2", "IG  cat  0.6600  fail    7.7", False),
        ("floor: 1e-06 + 0.001 × |x|", "floor: 1e-06 + 0.0016 × |x|", False),  # a short number is exact
        ("seed 0, 2 torch thread(s) per process (2 usable core(s) / 1 worker(s))",
         "seed 0, 16 torch thread(s) per process (16 usable core(s) / 1 worker(s))", True),
        ("seed 0, 2 torch thread(s)", "seed 1, 2 torch thread(s)", False),
        ("rerun in 521.1 s", "rerun in 30.2 s", True),
        ("paired +2.65e-08 (-5.8e-08 to +1.11e-07)", "paired +3.1e-08 (-6e-08 to +1.2e-07)", True),  # solver rounding
        ("paired +2.65e-05", "paired +3.1e-05", False),
    ],
)
def test_masks_and_tolerance(shown: str, fresh: str, same: bool) -> None:
    assert same_line(shown, fresh) is same
