"""Every recipe of the user guide (a block marked ``<!-- recipe: NAME -->``) runs, as written, in a fresh
project with the installed package, on a stand-in for the model it names: the tests' tiny network (untrained,
64 pixels, two methods). The commands are read from the guide; the only changes are the ones a CPU test
machine needs, each listed in SUBSTITUTIONS. A CI matrix (``--splits N --group G``) runs once per group, each
into its own artifact folder, as the jobs would.

The stand-in is untrained, so it fails two sanity properties a trained model has (tests/test_own_project.py);
each project first accepts those as known failures (``--xai-accept-failures``), so every gate below is strict
and green, and nothing is deselected."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL
from tests.test_own_project import MOBILENET

pytest.importorskip("pytest_split", reason="the shard recipes need pytest-split: pip install -e '.[shard]'")

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "user-guide.md"
BIN = Path(sys.executable).parent
MARK = re.compile(r"^ *<!-- recipe: (?P<name>[a-z0-9-]+) \(tests/test_recipes.py runs it\) -->$")
SPLITS = 2
SUBSTITUTIONS = (
    ("--xai-model resnet18", "--xai-model mymodels:mobilenet"),  # no ResNet-18 weights here: the stand-in
    ("--xai-device cuda", "--xai-device cpu"),  # no GPU here
    ("test_completeness[efficientnet_lite0-IG-hopper]", "test_randomization[mymodels.mobilenet-IG-hopper]"),  # one that fails here
    ("--splits 4", f"--splits {SPLITS}"),  # 6 cases: 2 shards
)
PYPROJECT = """
[tool.xai_eval]
models = ["mymodels:mobilenet"]
methods = ["IG", "GuidedBackprop"]
baselines = "fixtures/baselines"
"""


def recipes() -> dict[str, list[str]]:
    """Each recipe's commands: bash lines (continuations joined, comments and ``pip install`` left out) or a
    workflow's ``run:`` steps."""
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        mark = MARK.match(line)
        if not mark:
            continue
        fence = lines[index + 1].strip()
        end = next(i for i in range(index + 2, len(lines)) if lines[i].strip() == "```")
        body = textwrap.dedent("\n".join(lines[index + 2 : end]))
        found[mark["name"]] = _bash(body) if fence == "```bash" else _runs(body)
    return found


def _bash(body: str) -> list[str]:
    joined = body.replace("\\\n", " ")
    commands = [re.sub(r"\s+#\s.*$", "", line).strip() for line in joined.splitlines()]  # a trailing comment
    return [command for command in commands if command and not command.startswith(("python -m pip", "mkdir"))]


def _runs(body: str) -> list[str]:
    commands, lines = [], body.splitlines()
    for index, line in enumerate(lines):
        step = re.match(r"^(?P<indent> *)(?:- )?run: (?P<command>.*)$", line)
        if not step:
            continue
        command = step["command"].strip()
        if command == ">-":  # a folded block: the more-indented lines that follow
            indent = len(step["indent"])
            folded = []
            for more in lines[index + 1 :]:
                if len(more) - len(more.lstrip()) <= indent + 2 or not more.strip():
                    break
                folded.append(more.strip())
            command = " ".join(folded)
        if not command.startswith(("python -m pip", "mkdir")):
            commands.append(command)
    return commands


def _run(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    for old, new in SUBSTITUTIONS:
        command = command.replace(old, new)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    command = re.sub(r"^python ", f"{shlex.quote(sys.executable)} ", command)
    return subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=1200)


def _ok(project: Path, command: str) -> subprocess.CompletedProcess[str]:
    done = _run(project, command)
    assert done.returncode == 0, f"{command}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    return done


def _matrix(project: Path, command: str, artifact: str) -> None:
    """One CI job per group: ``shard/`` becomes the group's artifact folder."""
    for group in range(1, SPLITS + 1):
        folder = artifact.format(group=group)
        (project / folder).mkdir(parents=True, exist_ok=True)
        job = re.sub(r"--group (\$i|\$\{\{ matrix.group \}\}|\d+)", f"--group {group}", command).replace("shard/", folder)
        _ok(project, job)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """`xai-eval init` in an empty folder, the stand-in model, two methods, the guide's baselines folder."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "mymodels.py").write_text(TINY_MODEL + MOBILENET)
    _ok(root, "xai-eval init")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return root


def _accept_the_stand_ins_failures(project: Path, profile: str = "quick") -> None:
    _ok(project, f"pytest suites/test_sanity.py --xai-profile {profile} --xai-accept-failures 'an untrained stand-in'")


def test_every_marked_recipe_is_tested_here() -> None:
    tested = {"resnet18", "shards", "shards-record", "workflow", "nightly-record", "nightly-accept", "nightly"}
    assert set(recipes()) == tested
    assert all(recipes().values())


def test_resnet18_record_then_gate(project: Path) -> None:
    record, gate = recipes()["resnet18"]
    _accept_the_stand_ins_failures(project)
    _ok(project, record)
    for metric in ("max_sensitivity", "avg_sensitivity", "road"):
        assert (project / "fixtures" / "baselines" / f"{metric}.json").is_file(), metric
    done = _ok(project, gate)
    assert " passed" in done.stdout and not re.search(r"\b\d+ (failed|error)", done.stdout.splitlines()[-1])


def test_shards_record_then_gate_merge_and_report(project: Path) -> None:
    (record, write), (gate, merge, report) = recipes()["shards-record"], recipes()["shards"]
    _accept_the_stand_ins_failures(project)
    _matrix(project, record, "shard-{group}/")
    _ok(project, write)
    assert (project / "fixtures" / "baselines" / "snapshots" / "quick.npz").is_file()
    _ok(project, "pytest suites/ --xai-strict")  # what the shards recorded gates the whole run
    _matrix(project, gate, "shard-{group}/")
    _ok(project, merge)
    _ok(project, report)
    assert (project / "report" / "report.html").is_file() and (project / "merged" / "results.json").is_file()


def test_the_workflow_runs_its_jobs(project: Path) -> None:
    gate, merge, report = recipes()["workflow"]
    _accept_the_stand_ins_failures(project)
    _ok(project, recipes()["resnet18"][0].replace(" --xai-model resnet18", ""))  # the committed baselines
    _matrix(project, gate, "shards/shard-{group}/")
    _ok(project, merge)
    _ok(project, report)
    assert (project / "report" / "report.html").is_file()


def test_the_nightly_record_accept_and_gate(project: Path) -> None:
    (record,), (accept,), (gate, report) = recipes()["nightly-record"], recipes()["nightly-accept"], recipes()["nightly"]
    _ok(project, record)
    assert '"paper"' in (project / "fixtures" / "baselines" / "max_sensitivity.json").read_text()
    _ok(project, accept)
    known = (project / "fixtures" / "baselines" / "known_failures.json").read_text()
    assert "50-step IG misses completeness on hopper" in known and "mymodels.mobilenet" in known
    _accept_the_stand_ins_failures(project, "paper")
    (project / "paper").mkdir()
    done = _ok(project, gate)
    assert "xfailed" in done.stdout  # the accepted failures, strict xfails
    _ok(project, report)
    assert (project / "paper-report" / "report.html").is_file()
