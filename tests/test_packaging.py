"""The installed distribution: its name (ours, not another project's), the pytest plugin and the command."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import xai_eval

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
DISTRIBUTION = "pytest-xai-eval"


def test_the_distribution_is_pytest_xai_eval_and_provides_the_plugin_and_the_command() -> None:
    """``xai-eval`` on the registry is another project; ours is ``pytest-xai-eval`` (a stale install of the
    old name fails here: reinstall with ``python -m pip install -e ".[test]"``)."""
    assert tomllib.loads(PYPROJECT.read_text())["project"]["name"] == DISTRIBUTION
    installed = metadata.distribution(DISTRIBUTION)
    assert installed.version == xai_eval.__version__
    points = {(ep.group, ep.name): ep.value for ep in installed.entry_points}
    assert points[("pytest11", "xai_eval")] == "xai_eval.gate.plugin"
    assert points[("console_scripts", "xai-eval")] == "xai_eval.report.cli:main"
    assert "Framework :: Pytest" in installed.metadata.get_all("Classifier")


def test_the_old_metric_registry_path_works_with_a_deprecation_warning() -> None:
    import importlib
    import sys

    import xai_eval
    from xai_eval.measure import metrics

    sys.modules.pop("xai_eval.gate.metrics", None)
    with pytest.warns(DeprecationWarning, match="xai_eval.gate.metrics moved to xai_eval.measure.metrics"):
        old = importlib.import_module("xai_eval.gate.metrics")
    assert old.register_metric is metrics.register_metric and old.MetricSpec is metrics.MetricSpec
    assert xai_eval.register_metric is metrics.register_metric  # the new short path
    assert xai_eval.ModelBundle.__module__ == "xai_eval.models.bundle"
