"""The documentation is the code's: the README's profile table is ``xai-eval profiles``' output."""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_eval.explain.methods import METHODS
from xai_eval.gate.profile_table import settings_table
from xai_eval.gate.profiles import BUILTIN_PROFILES
from xai_eval.report.cli import main

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


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
        (lambda p: p.write_bytes(b"\xff\xfe[tool]"), "pyproject.toml: not valid TOML"),
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
