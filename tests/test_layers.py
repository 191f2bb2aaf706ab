"""The package's layers (tools/layers.py): every import points down, no circle, faces independent, the
diagram in docs/design.md is the code's, and the check fails on a tree that breaks each rule."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _layers():
    spec = importlib.util.spec_from_file_location("xai_eval_layers", ROOT / "tools" / "layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["xai_eval_layers"] = module
    spec.loader.exec_module(module)
    return module


layers = _layers()


def test_no_import_runs_up_or_forms_a_circle() -> None:
    assert layers.problems(layers.graph()) == []


def test_the_design_page_shows_the_current_layers() -> None:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    shown = layers.current_block(text)
    assert shown is not None, "docs/design.md has no layer diagram; run: python tools/layers.py --write"
    assert shown == layers.generated_block(), "docs/design.md's layer diagram is stale; run: python tools/layers.py --write"


def test_the_gate_is_at_most_a_quarter_of_the_package() -> None:
    lines = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in layers.modules().items()}
    gate = sum(n for name, n in lines.items() if layers.part_of(name) == "gate")
    assert gate <= sum(lines.values()) / 4, f"gate/ has {gate} of {sum(lines.values())} lines"


def test_the_gate_and_the_report_never_import_each_other_nor_benchmarks_the_gate() -> None:
    edges = layers.graph()
    faces = {(layers.part_of(e.source), layers.part_of(e.target)) for e in edges}
    assert ("gate", "report") not in faces and ("report", "gate") not in faces
    assert not any(layers.part_of(e.source) != "gate" and layers.part_of(e.target) == "gate" for e in edges)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"xai_eval/__init__.py": "", "benchmarks/run.py": "", **files}.items():  # later entries win
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"xai_eval/measure/m.py": "from xai_eval.engine import cases\n", "xai_eval/engine/cases.py": ""},
         "xai_eval/measure/m.py:1: imports xai_eval.engine.cases, a layer above (engine over measurement)"),
        ({"xai_eval/records/keys.py": "def f():\n    import xai_eval.config.profiles\n", "xai_eval/config/profiles.py": ""},
         "xai_eval/records/keys.py:2: imports xai_eval.config.profiles, a layer above"),
        ({"xai_eval/measure/m.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from xai_eval.gate.plugin import X\n",
          "xai_eval/gate/plugin.py": ""}, "xai_eval/measure/m.py:3: imports xai_eval.gate.plugin, a layer above"),
        ({"xai_eval/gate/a.py": "from xai_eval.report import cli\n", "xai_eval/report/cli.py": ""},
         "imports xai_eval.report.cli; the faces (api, gate, report) import no other face"),
        ({"xai_eval/engine/a.py": "from xai_eval.engine import b\n", "xai_eval/engine/b.py": "from xai_eval.engine.a import f\n"},
         "import circle: xai_eval.engine.a <-> xai_eval.engine.b"),
        ({"benchmarks/run.py": "from xai_eval.gate.plugin import x\n", "xai_eval/gate/plugin.py": ""},
         "benchmarks/run.py:1: imports xai_eval.gate.plugin; benchmarks use the core or the API, never the gate"),
        ({"xai_eval/misc/a.py": ""}, "xai_eval.misc.a: its part 'misc' is in no layer"),
        ({"xai_eval/engine/a.py": "def f():\n    from _pytest.outcomes import Skipped\n"},
         "xai_eval/engine/a.py:2: imports _pytest.outcomes; only the pytest face (gate/) imports pytest"),
        ({"xai_eval/__init__.py": '_EXPORTS = {"x": "xai_eval.gate.plugin"}\n', "xai_eval/gate/plugin.py": ""},
         "imports xai_eval.gate.plugin; the package root exports the API, not the gate face"),
    ],
    ids=["upward", "upward-in-function", "upward-type-only", "face-to-face", "circle", "benchmarks-gate", "unlisted",
         "pytest-in-the-core", "root-exports-a-face"],
)
def test_the_check_fails_on_a_tree_that_breaks_a_rule(tmp_path: Path, files: dict[str, str], fragment: str) -> None:
    root = _tree(tmp_path, files)
    found = layers.problems(layers.graph(root), root)
    assert any(fragment in line for line in found), found


def test_the_check_passes_a_tree_that_keeps_the_rules(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "xai_eval/engine/cases.py": "from xai_eval.measure import m\nfrom xai_eval.records.keys import K\n",
        "xai_eval/measure/m.py": "from xai_eval.records import keys\n", "xai_eval/records/keys.py": "",
        "xai_eval/gate/plugin.py": "from xai_eval.engine.cases import C\n",
    })
    assert layers.problems(layers.graph(root), root) == []


def test_a_stale_diagram_is_told_apart(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"xai_eval/records/keys.py": ""})
    before = layers.generated_block(root)
    (root / "xai_eval" / "records" / "maps.py").write_text("from xai_eval.records import keys\n")
    assert layers.generated_block(root) != before


def test_the_core_the_api_and_the_cli_import_without_pytest() -> None:
    import subprocess

    code = ("import sys\nfor name in ('pytest', '_pytest', 'pytest_benchmark', 'xdist'):\n    sys.modules[name] = None\n"
            "import xai_eval, xai_eval.api, xai_eval.report.cli, xai_eval.engine.comparison, xai_eval.engine.sanity\n"
            "import xai_eval.stores.recording, xai_eval.config.profile_table\nxai_eval.evaluate\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
