"""Gate settings: command-line options, ``[tool.xai_eval]`` in pyproject.toml, defaults.

An option given on the command line wins over pyproject.toml, which wins over
the defaults. Paths in pyproject.toml are relative to that file's folder. Every
value is type-checked here, so a wrong one is a one-line error naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from xai_eval.errors import XaiEvalError
from xai_eval.files import check_writable, read_text
from xai_eval.measure.change import DEFAULT_POLICY, POLICIES

DEFAULT_MODELS = ("efficientnet_lite0",)
DEFAULT_IMAGES = "fixtures/images"
DEFAULT_BASELINES = "fixtures/baselines/max_sensitivity.json"
MIN_CALIBRATION_SEEDS = 5
KNOWN_KEYS = {
    "profile", "models", "methods", "images", "baselines", "device", "resnet18_weights", "strict_weights", "results",
    "benchmark_rounds", "seed", "strict", "threads", "profiles", "snapshots", "fail_on", "thresholds",
}


@dataclass(frozen=True)
class Settings:
    """Everything that decides which cases run and how."""

    profile: str = "quick"
    models: tuple[str, ...] = DEFAULT_MODELS
    methods: tuple[str, ...] = ()
    """Empty means every registered method."""
    images: Path = Path(DEFAULT_IMAGES)
    baselines: Path = Path(DEFAULT_BASELINES)
    snapshots: Path | None = None
    """Folder of the explanation snapshots and model fingerprints (None: ``snapshots/`` beside the baselines)."""
    update_baselines: bool = False
    strict_weights: bool = False
    resnet18_weights: str | None = None
    device: str = "cpu"
    benchmark_rounds: int = 3
    """Timed rounds per runtime case (after the case's clean attribution, the warm-up)."""
    results: Path | None = None
    """Where to write every case's max sensitivity and sanity results as JSON (None: don't)."""
    seed: int = 0
    """Mixed into every random draw of every case."""
    calibrate: int = 0
    """Recompute each case under this many other seeds and write the spread and tolerance (0: don't)."""
    strict: bool = False
    """Every skipped case (missing device, weights, not-applicable method) fails instead."""
    threads: int | None = None
    """torch intra-op threads per process (None: usable cores / xdist workers)."""
    profile_tables: Mapping[str, Any] = field(default_factory=dict)
    """The project's ``[tool.xai_eval.profiles.*]`` tables, resolved by the session."""
    config_file: str = "pyproject.toml"
    """Where ``[tool.xai_eval]`` was read from (for messages)."""
    fail_on: str = DEFAULT_POLICY
    """Which changes of a recorded number fail: ``change`` (every one beyond the numeric floor) or
    ``worse-beyond-noise`` (see :data:`xai_eval.measure.change.POLICIES`)."""
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    """The project's ``[tool.xai_eval.thresholds]`` table, resolved by the session."""

    @property
    def snapshots_folder(self) -> Path:
        return self.snapshots if self.snapshots is not None else self.baselines.parent / "snapshots"


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
    group.addoption("--xai-baselines", default=None, metavar="FILE", help="baselines JSON file")
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
        help=f"record the baselines and calibrate each case's tolerance from its spread under K (>= {MIN_CALIBRATION_SEEDS}) other seeds",
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
        "worse-beyond-noise (only worse beyond the seed spread; the others are listed)",
    )


def _pyproject_path(config: pytest.Config) -> Path:
    inipath = config.inipath
    return inipath if inipath is not None and inipath.name == "pyproject.toml" else config.rootpath / "pyproject.toml"


def uses_xai_eval(config: pytest.Config) -> bool:
    """Whether this run is configured for xai-eval: an ``--xai-*`` option (command line or ``addopts``) or a
    ``[tool.xai_eval]`` table in the project's pyproject.toml (an unreadable one counts; ``resolve``
    reports it)."""
    if any(value is not None and value is not False for name, value in vars(config.option).items() if name.startswith("xai_")):
        return True
    try:
        return _tool_table(_pyproject_path(config)) is not None
    except (XaiEvalError, OSError):
        return True


def _tool_table(path: Path) -> Any:
    """The ``[tool.xai_eval]`` value of ``path`` as written (None: no file or no such table)."""
    if not path.is_file():
        return None
    text = read_text(path, "a pyproject.toml", "fix or remove its [tool.xai_eval] table")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise XaiEvalError(f"{path}: not valid TOML ({exc})") from None
    tool = data.get("tool", {})
    return tool.get("xai_eval") if isinstance(tool, dict) else None


def _pyproject(config: pytest.Config) -> tuple[dict[str, Any], Path, Path | None]:
    path = _pyproject_path(config)
    if not path.is_file():
        return {}, config.rootpath, None
    table = _tool_table(path)
    table = {} if table is None else table
    if not isinstance(table, dict):
        raise XaiEvalError(f"{path}: [tool.xai_eval] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise XaiEvalError(f"{path}: [tool.xai_eval] has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
    return table, path.parent, path


def _profiles_of(table: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    profiles = table.get("profiles", {})
    if not isinstance(profiles, dict):
        raise XaiEvalError(f"{where} profiles: expected tables [tool.xai_eval.profiles.NAME]")
    return profiles


def profile_tables(path: Path) -> Mapping[str, Any]:
    """The ``[tool.xai_eval.profiles.*]`` tables of the pyproject.toml ``path`` (for ``xai-eval profiles``)."""
    if not path.exists():
        raise XaiEvalError(f"{path}: no such file; give the project's pyproject.toml")
    if path.is_dir():
        raise XaiEvalError(f"{path}: is a folder, not a file; give the project's pyproject.toml")
    table = _tool_table(path)
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise XaiEvalError(f"{path}: [tool.xai_eval] must be a table")
    return _profiles_of(table, f"{path} [tool.xai_eval]")


class _Reader:
    """Typed access to one option: the command line first, then ``[tool.xai_eval]``."""

    def __init__(self, config: pytest.Config, table: dict[str, Any], base: Path, path: Path | None) -> None:
        self.config, self.table, self.base = config, table, base
        self.where = f"{path} [tool.xai_eval]" if path else "[tool.xai_eval]"

    def raw(self, option: str, key: str) -> tuple[Any, str] | None:
        value = self.config.getoption(option)
        if value is not None:
            return value, option
        if key in self.table:
            return self.table[key], f"{self.where} {key}"
        return None

    def string(self, option: str, key: str, default: str) -> str:
        found = self.raw(option, key)
        if found is None:
            return default
        value, where = found
        if not isinstance(value, str) or not value:
            raise XaiEvalError(f"{where}: expected a string, got {value!r}")
        return value

    def path(self, option: str, key: str, default: str | None) -> Path | None:
        cli = self.config.getoption(option)
        if cli is not None:
            return Path(cli)
        if key not in self.table:
            return None if default is None else self.base / default
        value = self.table[key]
        if not isinstance(value, str) or not value:
            raise XaiEvalError(f"{self.where} {key}: expected a path string, got {value!r}; e.g. {key} = \"{default or 'file.json'}\"")
        return self.base / value

    def flag(self, option: str, key: str) -> bool:
        found = self.raw(option, key)
        if found is None:
            return False
        value, where = found
        if not isinstance(value, bool):
            raise XaiEvalError(f"{where}: expected true or false (a TOML boolean, unquoted), got {value!r}")
        return value

    def integer(self, option: str, key: str, default: int | None, minimum: int) -> int | None:
        found = self.raw(option, key)
        if found is None:
            return default
        value, where = found
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise XaiEvalError(f"{where}: expected a whole number >= {minimum}, got {value!r}")
        return value

    def names(self, option: str, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        found = self.raw(option, key)
        if found is None:
            return default
        value, where = found
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise XaiEvalError(f"{where}: expected a name or a list of names, got {value!r}")


def resolve(config: pytest.Config) -> Settings:
    """Merge command line, ``[tool.xai_eval]`` and defaults into :class:`Settings`."""
    table, base, path = _pyproject(config)
    read = _Reader(config, table, base, path)
    weights = config.getoption("--xai-resnet18-weights")
    weights_path = Path(weights) if weights else read.path("--xai-resnet18-weights", "resnet18_weights", None)
    calibrate = read.integer("--xai-calibrate", "__no_key__", 0, 0) or 0
    if 0 < calibrate < MIN_CALIBRATION_SEEDS:
        raise XaiEvalError(f"--xai-calibrate: {calibrate} seeds cannot estimate a spread; use at least {MIN_CALIBRATION_SEEDS}")
    profiles = _profiles_of(table, read.where)
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise XaiEvalError(f"{read.where} thresholds: expected a table [tool.xai_eval.thresholds] of METHOD = number")
    fail_on = read.string("--xai-fail-on", "fail_on", DEFAULT_POLICY)
    if fail_on not in POLICIES:
        raise XaiEvalError(f"{read.where} fail_on: expected one of {', '.join(map(repr, POLICIES))}, got {fail_on!r}")
    images = read.path("--xai-images", "images", DEFAULT_IMAGES)
    baselines = read.path("--xai-baselines", "baselines", DEFAULT_BASELINES)
    assert images is not None and baselines is not None
    strict = read.flag("--xai-strict", "strict")
    return Settings(
        profile=read.string("--xai-profile", "profile", "quick"),
        models=read.names("--xai-model", "models", DEFAULT_MODELS),
        methods=read.names("--xai-method", "methods", ()),
        images=images,
        baselines=baselines,
        snapshots=read.path("--xai-snapshots", "snapshots", None),
        update_baselines=bool(config.getoption("--xai-update-baselines")) or calibrate > 0,
        strict_weights=strict or read.flag("--xai-strict-weights", "strict_weights"),
        resnet18_weights=None if weights_path is None else str(weights_path),
        device=read.string("--xai-device", "device", "cpu"),
        results=read.path("--xai-results", "results", None),
        benchmark_rounds=read.integer("--xai-benchmark-rounds", "benchmark_rounds", 3, 1) or 3,
        seed=read.integer("--xai-seed", "seed", 0, 0) or 0,
        calibrate=calibrate,
        strict=strict,
        threads=read.integer("--xai-threads", "threads", None, 1),
        profile_tables=profiles,
        config_file=str(path) if path else "pyproject.toml",
        fail_on=fail_on,
        thresholds=thresholds,
    )


def check_outputs(settings: Settings) -> None:
    """Before the run: one line if a file it will write (``--xai-results``, the baselines under
    ``--xai-update-baselines`` or ``--xai-calibrate``) cannot be written there."""
    if settings.results is not None:
        check_writable(settings.results, "--xai-results")
    if settings.update_baselines:
        check_writable(settings.baselines, "--xai-baselines")
