"""``[tool.xai_eval.exclude."MODEL"]``: a method that does not apply to a model, with its reason, as data; and a
``module:callable`` model imported from the project's folder under plain ``pytest``."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_bad_input import _assert_one_line_error

PYPROJECT = """
[tool.xai_eval]
models = ["tinynet:build"]
methods = ["IG", "LRP"]
images = "images"
baselines = "baselines.json"
{extra}
"""


def _project(gate_project: pytest.Pytester, extra: str) -> pytest.Pytester:
    gate_project.makepyprojecttoml(textwrap.dedent(PYPROJECT.format(extra=extra)))
    return gate_project


def test_an_excluded_method_is_not_collected_and_the_summary_says_why(gate_project: pytest.Pytester) -> None:
    project = _project(gate_project, '[tool.xai_eval.exclude."tinynet:build"]\nLRP = "no rule for its layer"\n')
    result = project.runpytest("--xai-update-baselines", "--xai-strict")
    result.assert_outcomes(passed=2)  # IG on both photos; LRP's cases are not collected
    line = next(line for line in result.stdout.lines if "LRP not run" in line)
    assert line.startswith("xai-eval: tinynet.build LRP not run, by [tool.xai_eval.exclude] in ")
    assert line.endswith("pyproject.toml: no rule for its layer")


def test_without_the_exclusion_both_methods_run(gate_project: pytest.Pytester) -> None:
    _project(gate_project, "").runpytest("--xai-update-baselines").assert_outcomes(passed=4)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ('[tool.xai_eval.exclude."other:model"]\nLRP = "x"\n', "'other:model' is not one of the models (tinynet.build)"),
        ('[tool.xai_eval.exclude."tinynet:build"]\nLRPP = "x"\n', "unknown method 'LRPP'"),
        ('[tool.xai_eval.exclude."tinynet:build"]\nLRP = ""\n', "expected the reason as a non-empty string"),
        ("[tool.xai_eval.exclude]\nLRP = 1\n", "exclude.LRP: expected a table of METHOD = \"reason\""),
    ],
    ids=["unknown-model", "unknown-method", "empty-reason", "not-a-table"],
)
def test_a_wrong_exclusion_is_one_line(gate_project: pytest.Pytester, extra: str, fragment: str) -> None:
    result = _project(gate_project, extra).runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_a_model_module_in_the_project_folder_is_found_without_it_on_the_path(tmp_path: Path) -> None:
    from xai_eval.errors import XaiEvalError
    from xai_eval.models.registry import validate_model_name

    (tmp_path / "standin_models_for_this_test.py").write_text("def build():\n    return None\n")
    assert str(tmp_path) not in sys.path
    with pytest.raises(XaiEvalError, match="cannot import module 'standin_models_for_this_test'"):
        validate_model_name("standin_models_for_this_test:build")  # without the project's folder
    try:
        validate_model_name("standin_models_for_this_test:build", root=tmp_path)
        assert sys.path[-1] == str(tmp_path.resolve())  # appended: it never shadows an installed module
    finally:
        sys.path.remove(str(tmp_path.resolve()))
        sys.modules.pop("standin_models_for_this_test", None)
