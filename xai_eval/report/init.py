"""``xai-eval init``: the files a project needs to run the gate, written into it.

``suites/`` (the gate's tests, as shipped), a baselines folder, and a commented ``[tool.xai_eval]`` table in
``pyproject.toml`` (appended to an existing one, or a new file). Nothing is overwritten: a file already there,
or a ``[tool.xai_eval]`` table already in pyproject.toml, stops it before it writes anything.
"""

from __future__ import annotations

from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_text, read_text

SHIPPED_SUITES = Path(__file__).resolve().parent.parent / "data" / "suites"
BASELINES = "xai_baselines"
TABLE = f'''
[tool.xai_eval]
# The models to gate: built-in names (efficientnet_lite0, resnet18) or "module:callable" returning an
# xai_eval.models.ModelBundle, imported from this folder (e.g. "mymodels:mobilenet" for mymodels.py).
models = ["efficientnet_lite0"]
# The baselines folder: max_sensitivity.json, one METRIC.json per metric and snapshots/, written by
#   pytest suites/test_sensitivity.py suites/test_metrics.py suites/test_snapshot.py --xai-calibrate 5
baselines = "{BASELINES}"
# images = "my_images"        # a folder with your photos and a manifest.toml (default: the 3 photos shipped with xai-eval)
# profile = "quick"           # or paper, or one of your [tool.xai_eval.profiles.NAME]
# methods = ["IG", "LRP"]     # default: every registered method

# A method that does not apply to a model, with the reason (reviewed like a baseline; the summary lists it):
# [tool.xai_eval.exclude."mymodels:mobilenet"]
# LRP = "no LRP rule for the multiplications of its squeeze-and-excitation blocks"

# A model id with a dot needs quotes in a table name:
# [tool.xai_eval.thresholds.quick."mymodels.mobilenet"]
# IG = 1.0
'''
README = f"""# {BASELINES}

The xai-eval baselines of this project: `max_sensitivity.json`, one `METRIC.json` per metric, and
`snapshots/` (explanation maps and model fingerprints). Record them with

    pytest suites/test_sensitivity.py suites/test_metrics.py suites/test_snapshot.py --xai-calibrate 5

review the diff, and commit them. `pytest suites/ --xai-strict` then gates against them.
"""


def planned(project: Path) -> dict[Path, str]:
    """Every file ``init`` writes into ``project`` and its text (pyproject.toml's: the whole new text)."""
    suites = sorted(SHIPPED_SUITES.glob("*.py"))
    if not suites:
        raise XaiEvalError(f"{SHIPPED_SUITES}: no suites shipped with this installation; reinstall pytest-xai-eval")
    files = {project / "suites" / path.name: path.read_text(encoding="utf-8") for path in suites}
    files[project / BASELINES / "README.md"] = README
    pyproject = project / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        text = read_text(pyproject, "a pyproject.toml", "fix it, or move it away and run xai-eval init again")
        try:
            tool = tomllib.loads(text).get("tool", {})
        except tomllib.TOMLDecodeError as exc:
            raise XaiEvalError(f"{pyproject}: not valid TOML ({exc}); fix it and run xai-eval init again") from None
        if isinstance(tool, dict) and "xai_eval" in tool:
            raise XaiEvalError(f"{pyproject}: already has a [tool.xai_eval] table; init writes nothing over it (edit it, "
                               "or remove it and run xai-eval init again)")
        files[pyproject] = text.rstrip("\n") + "\n" + TABLE
    else:
        files[pyproject] = TABLE.lstrip("\n")
    return files


def init_project(project: Path) -> list[Path]:
    """Write :func:`planned`'s files; refuse, before writing any, if one of them (but pyproject.toml) exists."""
    if not project.is_dir():
        raise XaiEvalError(f"{project}: no such folder; run xai-eval init in your project's folder (or give it with --dir)")
    files = planned(project)
    existing = [path for path in files if path.exists() and path.name != "pyproject.toml"]
    if existing:
        shown = ", ".join(str(path.relative_to(project)) for path in existing)
        raise XaiEvalError(f"{project}: {shown} already exist(s); init overwrites nothing (move them away, or copy what "
                           f"you need from {SHIPPED_SUITES})")
    for path, text in files.items():
        atomic_write_text(path, text)
    return list(files)
