"""The documentation is the code's: the README's profile table is ``xai-eval profiles``' output, and every
import path and file the README names, or a message prints, exists."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from xai_eval.explain.methods import METHODS
from xai_eval.gate.profile_table import settings_table
from xai_eval.gate.profiles import BUILTIN_PROFILES
from xai_eval.report.cli import main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
DOTTED = re.compile(r"(?<![\w.])xai_eval(?:\.[A-Za-z_]\w*)+")


def test_the_readme_table_is_the_built_in_profiles_settings() -> None:
    table = settings_table(list(BUILTIN_PROFILES.values()))
    assert table in README.read_text(encoding="utf-8"), "regenerate the README's table with: xai-eval profiles\n" + table


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


def test_every_import_path_in_the_readme_and_the_messages_exists() -> None:
    readme = README.read_text(encoding="utf-8")
    named = {dotted: "README.md" for dotted in DOTTED.findall(readme)}
    for text, where in _strings_in_code().items():
        named.update({dotted: where for dotted in DOTTED.findall(text)})
    for module, names in re.findall(r"^from (xai_eval[\w.]*) import ([\w, ]+)$", readme, re.MULTILINE):
        named.update({f"{module}.{name.strip()}": "README.md (import)" for name in names.split(",")})
    assert len(named) >= 10, named  # the scan finds them at all
    missing = sorted(f"{dotted} ({where})" for dotted, where in named.items() if not _resolves(dotted))
    assert not missing, missing


def test_every_file_the_readme_names_exists() -> None:
    readme = README.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:xai_eval|tests|suites|fixtures|benchmarks|\.ci)/[\w./-]*\w)`", readme))
    assert len(paths) > 10, paths
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert not missing, missing


def test_every_xai_eval_command_in_the_readmes_code_blocks_parses() -> None:
    """The commands the README shows (the CI workflow's included) are ones ``xai-eval`` accepts."""
    import shlex

    from xai_eval.report.cli import build_parser

    blocks = re.findall(r"^ *```\w*\n(.*?)^ *```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    commands = [m.group(1) for block in blocks for line in block.replace("\\\n", " ").splitlines()
                if (m := re.match(r"\s*(?:- )?(?:run: )?xai-eval (.*)", line))]
    assert {command.split()[0] for command in commands} >= {"report", "compare", "merge", "record"}, commands
    for command in commands:
        try:
            build_parser().parse_args(shlex.split(command, comments=True))
        except SystemExit:
            pytest.fail(f"the README's `xai-eval {command}` is not a valid command")
