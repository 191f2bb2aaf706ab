"""The gate's command-line options (``--xai-*``), and the run's settings from them and ``[tool.xai_eval]``.

The options are declared here; what they mean, with pyproject.toml and the defaults, is decided by the
pytest-free :func:`xai_eval.config.settings.resolve`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_eval.config.settings import MIN_CALIBRATION_SEEDS, Settings, resolve, tool_table
from xai_eval.errors import XaiEvalError
from xai_eval.measure.change import POLICIES


OPTION_NAMES = (
    "--xai-profile", "--xai-model", "--xai-method", "--xai-images", "--xai-baselines", "--xai-snapshots",
    "--xai-update-baselines", "--xai-calibrate", "--xai-seed", "--xai-strict", "--xai-strict-weights",
    "--xai-resnet18-weights", "--xai-device", "--xai-threads", "--xai-benchmark-rounds", "--xai-results", "--xai-fail-on",
    "--xai-paired-reruns", "--xai-accept-failures",
)
"""Every option :func:`add_options` declares (``tests/`` checks the two agree)."""


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--xai-*`` options (also used by the tests of the option parsing)."""
    group = parser.getgroup("xai-eval", "attribution regression gate (xai-eval)")
    group.addoption("--xai-profile", default=None, help="run profile: quick (default, CI-sized), paper (study settings) or one of [tool.xai_eval.profiles]")
    group.addoption(
        "--xai-model", action="append", default=None, metavar="NAME",
        help="model to gate: efficientnet_lite0 (default), resnet18 or module:callable (repeatable)",
    )
    group.addoption("--xai-method", action="append", default=None, metavar="NAME", help="only this method (repeatable)")
    group.addoption("--xai-images", default=None, metavar="DIR", help="folder with manifest.toml and photos")
    group.addoption(
        "--xai-baselines", default=None, metavar="PATH",
        help="baselines folder (default fixtures/baselines), or max sensitivity's .json file in it",
    )
    group.addoption(
        "--xai-snapshots", default=None, metavar="DIR",
        help="folder of explanation snapshots and model fingerprints (default: snapshots/ beside the baselines file)",
    )
    group.addoption(
        "--xai-update-baselines", action="store_true", default=False,
        help="accept the measured values: rewrite the entries of the cases that ran",
    )
    group.addoption(
        "--xai-calibrate", type=int, default=None, metavar="K",
        help=f"record the baselines and each number under K (>= {MIN_CALIBRATION_SEEDS}) other seeds, the seeds a "
        "paired rerun repeats",
    )
    group.addoption(
        "--xai-accept-failures", default=None, metavar="REASON",
        help="record every sanity check that fails in this run as a known failure with this reason "
        "(known_failures.json beside the baselines; it then runs as a strict xfail)",
    )
    group.addoption(
        "--xai-paired-reruns", action="store_true", default=None,
        help="rerun each case that changed beyond its floor on its recorded seeds, and say from the paired "
        "differences whether the expected value moved or only the draws (costs time only for changed cases)",
    )
    group.addoption("--xai-seed", type=int, default=None, metavar="N", help="mixed into every random draw (default 0)")
    group.addoption(
        "--xai-strict", action="store_true", default=None,
        help="fail every skipped case (missing device or weights, method not applicable); what CI should run",
    )
    group.addoption(
        "--xai-strict-weights", action="store_true", default=None,
        help="fail (instead of skip) cases whose pretrained weights are missing",
    )
    group.addoption(
        "--xai-resnet18-weights", default=None, metavar="PATH",
        help="ResNet-18 IMAGENET1K_V1 state dict (else $XAI_EVAL_RESNET18_WEIGHTS, else the torch hub cache)",
    )
    group.addoption("--xai-device", default=None, metavar="DEVICE", help="cpu, cuda, cuda:N or mps (default cpu)")
    group.addoption(
        "--xai-threads", type=int, default=None, metavar="N",
        help="torch threads per process (default: usable cores divided by the xdist workers)",
    )
    group.addoption(
        "--xai-benchmark-rounds", type=int, default=None, metavar="N",
        help="timed rounds per runtime case, after the case's clean attribution as warm-up (default 3; use more for precise comparisons)",
    )
    group.addoption("--xai-results", default=None, metavar="FILE", help="write every case's results (metric and sanity) as JSON")
    group.addoption(
        "--xai-fail-on", default=None, choices=POLICIES,
        help="which changes of a recorded number fail: change (default: every change beyond the numeric floor) or "
        "worse-beyond-noise (all but those paired reruns show to be only the draws, or better; the others are listed)",
    )




def pyproject_path(config: pytest.Config) -> Path:
    inipath = config.inipath
    return inipath if inipath is not None and inipath.name == "pyproject.toml" else config.rootpath / "pyproject.toml"


def uses_xai_eval(config: pytest.Config) -> bool:
    """Whether this run is configured for xai-eval: an ``--xai-*`` option (command line or ``addopts``) or a
    ``[tool.xai_eval]`` table in the project's pyproject.toml (an unreadable one counts; ``resolve``
    reports it)."""
    if any(value is not None and value is not False for name, value in vars(config.option).items() if name.startswith("xai_")):
        return True
    try:
        return tool_table(pyproject_path(config)) is not None
    except (XaiEvalError, OSError):
        return True


def settings_of(config: pytest.Config) -> Settings:
    """The run's :class:`Settings`: the ``--xai-*`` options over ``[tool.xai_eval]`` over the defaults."""
    options = {opt: config.getoption(opt) for opt in OPTION_NAMES}
    return resolve(options, pyproject_path(config), config.rootpath)
