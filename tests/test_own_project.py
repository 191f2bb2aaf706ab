"""README's "Gate your own model" steps, as a new user runs them: in a fresh project outside this repository,
with the installed package only, plain ``pytest`` and ``xai-eval`` commands, and a model LRP does not apply to
(the tests' tiny model with a SiLU stands in for the README's mobilenet_v3_small)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL

BIN = Path(sys.executable).parent
MOBILENET = '''

class StandIn(SiluNet):
    """A tiny network with a SiLU (no LRP rule) and ImageNet's 1000 classes (the shipped photos' labels)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1000)


def mobilenet(image_size=64):
    """The stand-in, at 64 pixels so Occlusion's window fits."""
    torch.manual_seed(0)
    return ModelBundle(StandIn(), imagenet_transform(64, (0.5,) * 3, (0.25,) * 3), "conv2")
'''
SANITY_OF_AN_UNTRAINED_MODEL = ("FAILED suites/test_sanity.py::test_randomization[",
                                "FAILED suites/test_sanity.py::test_well_formed[")


def _run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return subprocess.run([str(BIN / command[0]), *command[1:]], cwd=project, env=env, capture_output=True, text=True,
                          timeout=1200)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder outside the repository, with the user's model module (step 1)."""
    root = tmp_path / "myproject"
    root.mkdir()
    (root / "mymodels.py").write_text(TINY_MODEL + MOBILENET)
    return root


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_steps() -> tuple[str, list[list[str]]]:
    """The README's own-model section: its pyproject.toml block and its commands (each ```bash line)."""
    import re
    import shlex

    text = README.read_text(encoding="utf-8")
    section = text.split("## Gate your own model in three steps", 1)[1].split("\n## ", 1)[0]
    assert "`xai-eval init`" in section
    (toml,) = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    commands = [shlex.split(line, comments=True) for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S)
                for line in block.strip().splitlines()]
    return textwrap.dedent(toml), commands


def test_the_readme_steps_init_record_and_gate_strict_with_plain_pytest(project: Path) -> None:
    toml, (record_command, gate_command) = _readme_steps()
    init = _run(project, "xai-eval", "init")
    assert init.returncode == 0, init.stderr
    assert {p.name for p in (project / "suites").iterdir()} >= {"test_sensitivity.py", "test_sanity.py", "test_snapshot.py"}
    (project / "pyproject.toml").write_text(toml)  # step 2, as the README writes it

    record = _run(project, *record_command)
    assert record.returncode == 0, record.stdout[-3000:] + record.stderr[-2000:]
    baselines = project / "xai_baselines"
    assert (baselines / "max_sensitivity.json").is_file() and (baselines / "road.json").is_file()
    assert (baselines / "snapshots" / "quick.npz").is_file()
    assert not list(project.glob("*.json")), "nothing spreads over the project's root"

    assert gate_command == ["pytest", "suites/", "--xai-strict"]
    gate = _run(project, *gate_command, "-rfE")  # step 3
    assert "mymodels.mobilenet LRP not run, by [tool.xai_eval.exclude]" in gate.stdout
    # Every case ran (strict: nothing skipped but an inconclusive check) and every recorded number passed. The
    # stand-in is untrained, so it fails sanity properties a trained model has: those, and only those, fail.
    failed = [line for line in gate.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    assert all(line.startswith(SANITY_OF_AN_UNTRAINED_MODEL) for line in failed), "\n".join(failed)
    assert "not applicable" not in gate.stdout and "failing because of --xai-strict" not in gate.stdout
    rest = _run(project, *gate_command, "-k", "not test_randomization and not test_well_formed")
    assert rest.returncode == 0, rest.stdout[-4000:]


def test_without_the_exclusion_strict_fails_the_lrp_cases_and_says_why(project: Path) -> None:
    assert _run(project, "xai-eval", "init").returncode == 0
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('models = ["efficientnet_lite0"]', 'models = ["mymodels:mobilenet"]'))
    gate = _run(project, "pytest", "suites/test_sensitivity.py", "--xai-strict", "-k", "LRP")
    assert gate.returncode == 1
    assert "not applicable" in gate.stdout and "failing because of --xai-strict" in gate.stdout


def test_init_overwrites_nothing(project: Path) -> None:
    assert _run(project, "xai-eval", "init").returncode == 0
    again = _run(project, "xai-eval", "init")
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already has a [tool.xai_eval] table; init writes nothing over it" in again.stderr
    (project / "pyproject.toml").write_text("tool.xai_eval.models = ['x']\n\n[project]\nname = 'mine'\n")  # dotted keys
    dotted = _run(project, "xai-eval", "init")
    assert dotted.returncode == 2 and "already has a [tool.xai_eval] table" in dotted.stderr
    (project / "pyproject.toml").write_text("[project]\nname = 'mine'\n")
    third = _run(project, "xai-eval", "init")
    assert third.returncode == 2 and "already exist(s); init overwrites nothing" in third.stderr
    assert (project / "pyproject.toml").read_text() == "[project]\nname = 'mine'\n"


def test_the_shipped_photos_are_the_images_of_a_project_that_names_none(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.xai_eval]\nmodels = ["mymodels:mobilenet"]\nmethods = ["IG"]\n')
    (project / "test_gate.py").write_text("def test_max_sensitivity(xai_case, xai_baselines):\n"
                                          "    xai_baselines.check(xai_case, xai_case.max_sensitivity())\n")
    run = _run(project, "pytest", "test_gate.py", "--collect-only", "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert {"mymodels.mobilenet-IG-coffee", "mymodels.mobilenet-IG-cat", "mymodels.mobilenet-IG-hopper"} <= {
        line.split("[")[-1].rstrip("]") for line in run.stdout.splitlines() if "[" in line
    }
