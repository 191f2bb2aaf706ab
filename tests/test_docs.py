"""The documentation is the code's: README.md and docs/*.md cannot rot silently.

* the profiles' table in docs/reference.md is ``xai-eval profiles``' output;
* every relative link (and its #anchor) and every repository file path the pages name exists;
* every ``--xai-*`` option the plugin registers, every ``[tool.xai_eval]`` key and every option of the
  ``xai-eval`` command is documented in docs/reference.md;
* the ``xai-eval ...`` commands in the pages' code blocks parse, and the ``pytest ...`` commands there use
  only options that ``pytest --help`` lists (every ``--xai-*`` option anywhere in the pages is registered);
* every import path the pages name, or a message prints, exists.

Each checking function is also run on a synthetic broken text, to show that it reports the problem.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from xai_eval.explain.methods import METHODS
from xai_eval.config.profile_table import settings_table
from xai_eval.config.profiles import BUILTIN_PROFILES
from xai_eval.config.settings import KNOWN_KEYS
from xai_eval.gate.options import add_options
from xai_eval.report.cli import build_parser, main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"
PROFILE_TABLE_PAGE = REFERENCE
"""The page that holds the built-in profiles' table."""
PAGES = [README, *sorted(DOCS.glob("*.md"))]
DOTTED = re.compile(r"(?<![\w.])xai_eval(?:\.[A-Za-z_]\w*)+")
README_COMMANDS = (
    "```bash\n"
    "python -m pip install -e . && python -m pytest suites/            # the gate, on the default model\n"
    'python -m pip install -e ".[test]" && python -m pytest tests/     # xai-eval\'s own tests (CI runs this, the mutation suite, then the gate)\n'
    "```\n"
)


def _text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def _all_text() -> str:
    return "\n".join(_text(page) for page in PAGES)


def test_the_pages_are_there_and_the_readme_is_short() -> None:
    assert {page.name for page in PAGES} >= {
        "README.md", "user-guide.md", "reference.md", "design.md", "benchmarks.md", "changelog.md"}
    readme = _text(README)
    assert len(readme.splitlines()) <= 150, len(readme.splitlines())
    first_block = readme[readme.index("```"):]
    assert first_block.startswith(README_COMMANDS), "the README's first code block must be the two commands, unchanged"


def test_the_documented_table_is_the_built_in_profiles_settings() -> None:
    table = settings_table(list(BUILTIN_PROFILES.values()))
    assert table in _text(PROFILE_TABLE_PAGE), f"regenerate the table in {PROFILE_TABLE_PAGE.name} with: xai-eval profiles\n" + table


def test_profiles_quick_prints_the_quick_settings_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "quick"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "| setting | `quick` |"
    assert "| `n_perturb_samples` | 10 |" in out and "| `perturb_radius` | 0.02 |" in out
    for spec in METHODS.values():
        row = next(line for line in out.splitlines() if line.startswith(f"| {spec.name} ("))
        for key, value in spec.kwargs_for("quick").items():
            assert f"{key}=" in row and str(value if not isinstance(value, tuple) else list(value)) in row, (key, row)


def test_profiles_prints_a_user_profile_with_what_it_inherits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.xai_eval.profiles.nightly]\nextends = "quick"\nn_perturb_samples = 20\n\n'
        "[tool.xai_eval.profiles.nightly.methods.IG]\nn_steps = 64\n"
    )
    assert main(["profiles", "nightly", "--pyproject", str(pyproject)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| setting | `nightly` (from `quick`) |"
    assert "| `n_perturb_samples` | 20 |" in lines and "| `perturb_radius` | 0.02 |" in lines
    assert "| IG (`IntegratedGradients`) | `n_steps=64, internal_batch_size=8`; baselines: zeros |" in lines


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda p: None, "pyproject.toml: no such file; give the project's pyproject.toml"),
        (lambda p: p.mkdir(), "pyproject.toml: is a folder, not a file; give the project's pyproject.toml"),
        (lambda p: p.write_text("[tool.xai_eval\n"), "pyproject.toml: not valid TOML"),
        (lambda p: p.write_bytes(b"\xff\xfe[tool]"), "pyproject.toml: not UTF-8 text, so not a pyproject.toml"),
        (lambda p: p.write_text("[tool.xai_eval]\nprofiles = 3\n"), "profiles: expected tables [tool.xai_eval.profiles.NAME]"),
        (lambda p: p.write_text('[tool.xai_eval.profiles.x]\nextends = "nope"\n'), "[tool.xai_eval.profiles.x] extends: must name a profile"),
    ],
)
def test_profiles_with_a_bad_pyproject_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, fragment: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    setup(pyproject)
    assert main(["profiles", "--pyproject", str(pyproject)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xai-eval: error: ") and fragment in err, err


def _resolves(dotted: str) -> bool:
    """Whether ``dotted`` names a module, or an attribute reached from the longest importable module."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def _strings_in_code() -> dict[str, str]:
    """Every string constant of xai_eval (messages, f-string parts, docstrings) -> where it is."""
    found = {}
    for path in sorted((ROOT / "xai_eval").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.setdefault(node.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_import_path_in_the_pages_and_the_messages_exists() -> None:
    named = {}
    for page in PAGES:
        text = _text(page)
        named.update({dotted: page.name for dotted in DOTTED.findall(text)})
        for module, names in re.findall(r"^ *from (xai_eval[\w.]*) import ([\w, ]+)$", text, re.MULTILINE):
            named.update({f"{module}.{name.strip()}": f"{page.name} (import)" for name in names.split(",")})
    for text, where in _strings_in_code().items():
        named.update({dotted: where for dotted in DOTTED.findall(text)})
    assert len(named) >= 10, named  # the scan finds them at all
    missing = sorted(f"{dotted} ({where})" for dotted, where in named.items() if not _resolves(dotted))
    assert not missing, missing


# --- links and file paths ------------------------------------------------------------------------------

FENCE = re.compile(r"^ *```.*?^ *```[^\n]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
PATH = re.compile(r"`((?:xai_eval|tests|suites|fixtures|benchmarks|docs|\.ci)/[\w./-]*\w/?)`")


def _outside_code(text: str) -> str:
    return FENCE.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a page's headings (a repeated heading gets -1, -2, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?)[ #]*$", _outside_code(text), re.MULTILINE):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(text: str, page: Path) -> list[str]:
    """Every relative link of ``text`` (the page ``page``) whose file, or whose #anchor in a Markdown page,
    does not exist. Links with a scheme (https:, mailto:) are not followed."""
    problems = []
    for target in LINK.findall(_outside_code(text)):
        if re.match(r"[A-Za-z][\w+.-]*:", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if path and not destination.exists():
            problems.append(f"{page.name}: ({target}): no such file")
        elif anchor and destination.suffix == ".md":
            headings = anchors(text if not path else destination.read_text(encoding="utf-8"))
            if anchor not in headings:
                problems.append(f"{page.name}: ({target}): no heading #{anchor} in {destination.name}")
    return problems


def missing_paths(text: str) -> list[str]:
    """The repository paths named in backticks (`benchmarks/numeric_floor.py`) that do not exist."""
    return sorted({path for path in PATH.findall(text) if not (ROOT / path).exists()})


def test_every_relative_link_of_the_pages_exists() -> None:
    links = sum(len(LINK.findall(_outside_code(_text(page)))) for page in PAGES)
    assert links > 30, links  # the scan finds them at all
    problems = [problem for page in PAGES for problem in broken_links(_text(page), page)]
    assert not problems, problems


def test_every_file_the_pages_name_exists() -> None:
    paths = {path for page in PAGES for path in PATH.findall(_text(page))}
    assert len(paths) > 20, paths
    missing = {page.name: missing_paths(_text(page)) for page in PAGES}
    assert not any(missing.values()), missing


def test_the_link_check_reports_a_broken_link_and_a_missing_heading() -> None:
    text = ("See [the guide](docs/user-guide.md#strict-ci), [CI](.ci/run), [pytest-split](https://pypi.org/) "
            "and [here](#a-heading).\n\n## A heading\n\n"
            "But [this](docs/no-such-page.md), [that](docs/user-guide.md#no-such-heading) and [it](#nowhere).\n"
            "```\n[not a link](in/a/code/block.md)\n```\n")
    assert broken_links(text, README) == [
        "README.md: (docs/no-such-page.md): no such file",
        "README.md: (docs/user-guide.md#no-such-heading): no heading #no-such-heading in user-guide.md",
        "README.md: (#nowhere): no heading #nowhere in README.md",
    ]
    assert missing_paths("`benchmarks/numeric_floor.py`, `fixtures/images/`, `benchmarks/no_such_script.py`") == [
        "benchmarks/no_such_script.py"]


def test_headings_anchor_as_on_github() -> None:
    assert anchors("# Reference\n## Profiles' settings\n### `xai-eval report`\n## Model adaptation (LRP, Guided Backprop)\n"
                   "## Notes\n## Notes\n```\n# a comment, not a heading\n```\n") == {
        "reference", "profiles-settings", "xai-eval-report", "model-adaptation-lrp-guided-backprop", "notes", "notes-1"}


# --- options and keys ----------------------------------------------------------------------------------

class _OptionRecorder:
    """Stands in for pytest's parser: records the names of the options the plugin registers."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def getgroup(self, *args: object, **kwargs: object) -> _OptionRecorder:
        return self

    def addoption(self, *names: str, **kwargs: object) -> None:
        self.names.extend(names)


def plugin_options() -> list[str]:
    """The ``--xai-*`` options the plugin registers (its ``pytest_addoption`` hook)."""
    from xai_eval.gate import plugin

    recorder = _OptionRecorder()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    return recorder.names


_HELP: list[str] = []


def pytest_help() -> str:
    """``pytest --help`` in this project: every option pytest and its plugins accept here."""
    if not _HELP:
        done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        _HELP.append(done.stdout)
    return _HELP[0]


def help_options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))


def undocumented(names: Iterable[str], text: str) -> list[str]:
    """The names (options, or keys in backticks) that ``text`` never mentions as a whole word."""
    return sorted(name for name in names if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text))


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^#{2,3} +(.+)$", _outside_code(text), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def undocumented_commands(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """Every ``xai-eval`` subcommand without a section "### `xai-eval NAME`" in ``text``, and every option
    or argument of one that its section does not mention."""
    sections = _sections(text)
    problems = []
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    for name, command in subparsers.choices.items():
        section = sections.get(f"`xai-eval {name}`")
        if section is None:
            problems.append(f"xai-eval {name}: no section")
            continue
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            names = action.option_strings or [action.metavar or action.dest]
            problems += [f"xai-eval {name} {option}" for option in undocumented(names, section)]
    return problems


def test_the_plugin_options_are_the_ones_pytest_lists() -> None:
    registered = plugin_options()
    assert len(registered) >= 17 and all(name.startswith("--xai-") for name in registered), registered
    listed = {name for name in help_options(pytest_help()) if name.startswith("--xai-")}
    assert listed == set(registered)


def test_every_option_key_and_command_is_in_the_reference() -> None:
    reference = _text(REFERENCE)
    assert undocumented(plugin_options(), reference) == []
    assert undocumented([f"`{key}`" for key in sorted(KNOWN_KEYS)], reference) == []
    assert undocumented_commands(build_parser(), reference) == []


def test_the_option_check_reports_an_undocumented_option_key_and_command() -> None:
    text = "| `--xai-profile NAME` | `profile` |\n\n### `xai-eval report`\n\n`RUN.json`, `--out DIR`\n"
    assert undocumented(["--xai-profile", "--xai-shiny", "--xai-prof"], text) == ["--xai-prof", "--xai-shiny"]
    assert undocumented(["`profile`", "`profiles`"], text) == ["`profiles`"]
    parser = argparse.ArgumentParser(prog="xai-eval")
    commands = parser.add_subparsers(dest="command")
    report = commands.add_parser("report")
    report.add_argument("runs", nargs="+", metavar="RUN.json")
    report.add_argument("--out", required=True)
    report.add_argument("--shiny", action="store_true")
    commands.add_parser("polish")
    assert undocumented_commands(parser, text) == ["xai-eval report --shiny", "xai-eval polish: no section"]


# --- commands in code blocks ---------------------------------------------------------------------------

def _code_blocks(text: str) -> list[str]:
    """The fenced code blocks, continuation lines joined (a shell ``\\`` or a YAML ``>-`` line that goes on
    with an option), and the inline code spans."""
    blocks = [m.group(0) for m in FENCE.finditer(text)]
    blocks = [re.sub(r"\n\s+(?=--)", " ", block.replace("\\\n", " ")) for block in blocks]
    return blocks + re.findall(r"`([^`\n]+)`", _outside_code(text))


def pytest_commands(text: str) -> list[list[str]]:
    """The ``pytest ...`` (or ``python -m pytest ...``) commands of ``text``'s code, as argument lists."""
    commands = []
    for block in _code_blocks(text):
        for line in block.splitlines():
            if m := re.search(r"(?<![\w-])pytest\s+(.*)", line):
                words = shlex.split(m.group(1).replace("${{", "").replace("}}", ""), comments=True)
                ends = [i for i, word in enumerate(words) if word in ("&&", "||", ";", "|")]
                commands.append(words[: ends[0]] if ends else words)
    return commands


def unknown_pytest_options(text: str, known: set[str]) -> list[str]:
    """The options of the pytest commands in ``text`` that are not in ``known``, and every ``--xai-*``
    option anywhere in ``text`` that is not in ``known``."""
    used = {word.split("=")[0] for command in pytest_commands(text) for word in command if word.startswith("-")}
    used |= set(re.findall(r"(?<![\w-])(--xai-[\w-]*\w)", text))
    return sorted(used - known)


def xai_eval_commands(text: str) -> list[str]:
    blocks = [re.sub(r"\n\s+(?=--)", " ", m.group(0).replace("\\\n", " ")) for m in FENCE.finditer(text)]
    return [m.group(1) for block in blocks for line in block.splitlines()
            if (m := re.match(r"\s*(?:- )?(?:run: )?xai-eval (.*)", line))]


def invalid_xai_eval_commands(text: str) -> list[str]:
    invalid = []
    for command in xai_eval_commands(text):
        try:
            build_parser().parse_args(shlex.split(command, comments=True))
        except SystemExit:
            invalid.append(f"xai-eval {command}")
    return invalid


def test_every_pytest_command_in_the_pages_uses_options_that_exist() -> None:
    commands = [command for page in PAGES for command in pytest_commands(_text(page))]
    assert len(commands) > 20, commands
    known = help_options(pytest_help())
    problems = {page.name: unknown_pytest_options(_text(page), known) for page in PAGES}
    assert not any(problems.values()), problems


def test_every_xai_eval_command_in_the_pages_code_blocks_parses(capsys: pytest.CaptureFixture[str]) -> None:
    """The commands the pages show (the CI workflows' included) are ones ``xai-eval`` accepts."""
    commands = [command for page in PAGES for command in xai_eval_commands(_text(page))]
    assert {command.split()[0] for command in commands} >= {"report", "compare", "merge", "record"}, commands
    problems = {page.name: invalid_xai_eval_commands(_text(page)) for page in PAGES}
    assert not any(problems.values()), problems


def test_the_command_checks_report_an_unknown_option_and_an_invalid_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = ("```bash\npython -m pip install -e . && python -m pytest suites/ --xai-strict -n 2  # ok\n"
            "pytest suites/ --splits 4 --xai-shiny \\\n    --benchmark-jason=x.json\n"
            "xai-eval report run.json --out report/\nxai-eval report run.json\n```\n"
            "```yaml\n      - run: >-\n          python -m pytest suites/\n          --xai-profile paper --no-such-flag\n```\n"
            "Run `pytest suites/ --xai-nope`; see also --xai-gone.\n")
    known = {"--xai-strict", "-n", "--splits", "--xai-profile", "--benchmark-json"}
    assert unknown_pytest_options(text, known) == ["--benchmark-jason", "--no-such-flag", "--xai-gone", "--xai-nope", "--xai-shiny"]
    assert invalid_xai_eval_commands(text) == ["xai-eval report run.json"]


API_MARK = "<!-- api-example:"


def _api_example() -> str:
    text = _text(ROOT / "docs" / "user-guide.md")
    start = text.index(API_MARK)
    block = text[start:].split("```python\n", 1)[1].split("```", 1)[0]
    return block


def test_the_api_example_in_the_user_guide_runs(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The guide's example as written, with the tests' tiny model standing in for EfficientNet-Lite0 (and its
    16-pixel photos for the shipped ones, which Occlusion's window does not fit: IG-VG stands in for Occlusion)."""
    example = _api_example()
    assert 'model="efficientnet_lite0"' in example and 'methods=["IG", "Occlusion"]' in example
    example = example.replace('model="efficientnet_lite0"', 'model="tinynet:build", images="images", progress=False')
    example = example.replace('methods=["IG", "Occlusion"]', 'methods=["IG", "IG-VG"]')
    monkeypatch.chdir(gate_project.path)
    (gate_project.path / "fixtures").mkdir()
    names: dict[str, object] = {}
    exec(compile(example, "docs/user-guide.md (api example)", "exec"), names)
    out = capsys.readouterr().out
    assert "max_sensitivity" in out and "sanity completeness" in out
    verdicts = names["verdicts"]
    gated = verdicts[~verdicts["check"].str.startswith("sanity")]
    assert set(gated["verdict"]) == {"missing"}  # the committed baselines have no tiny model
    assert gated["message"].str.contains(r"create them.* with: pytest suites/\S* --xai-profile quick").all(), gated[["check", "message"]].to_string()
    results = json.loads((gate_project.path / "results.json").read_text())
    assert {case["method"] for case in results["cases"]} == {"IG", "IG-VG"}


def test_the_suites_table_lists_every_suite_of_the_folder() -> None:
    """A count or list of suites in the guide comes from the folder, not from memory."""
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `suites/(test_\w+\.py)` \|", guide, re.MULTILINE))
    assert listed == {path.name for path in (ROOT / "suites").glob("test_*.py")}, listed


def test_the_committed_test_durations_are_the_suites_tests() -> None:
    """.test_durations (pytest-split's durations, committed as the guide says) holds every test of suites/ and
    no other: regenerate it with `pytest suites/ --xai-strict --store-durations` when the suites change."""
    import json
    import subprocess
    import sys

    collected = subprocess.run([sys.executable, "-m", "pytest", "suites/", "--collect-only", "-q", "-p", "no:randomly"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
    ids = {line for line in collected.stdout.splitlines() if line.startswith("suites/")}
    assert ids, collected.stdout[-2000:] + collected.stderr[-2000:]
    stored = set(json.loads((ROOT / ".test_durations").read_text(encoding="utf-8")))
    assert stored == ids, f"missing: {sorted(ids - stored)[:5]}, stale: {sorted(stored - ids)[:5]}"


def test_the_profile_table_keys_are_the_parsers() -> None:
    """The reference's profile-table section lists every key the parser accepts, and no other."""
    from xai_eval.config.profiles import TABLE_KEYS

    section = REFERENCE.read_text(encoding="utf-8").split("### Profile tables", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"`(\w+)`", section.split("|---|---|", 1)[1])) | set(
        re.findall(r"\.NAME\.(\w+)\.", section))
    assert listed - {"quick", "paper", "attribute", "fractions", "noise"} == set(TABLE_KEYS), listed
