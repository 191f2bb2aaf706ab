"""Run settings: command-line values, ``[tool.xai_eval]`` in pyproject.toml, defaults.

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

from xai_eval.config.images import SHIPPED_IMAGES
from xai_eval.errors import XaiEvalError
from xai_eval.files import check_writable, read_text
from xai_eval.measure.change import DEFAULT_POLICY, POLICIES

DEFAULT_MODELS = ("efficientnet_lite0",)
DEFAULT_BASELINES = "fixtures/baselines"
BASELINES_FILE = "max_sensitivity.json"
"""Max sensitivity's baselines file in a baselines folder (every other metric's ``METRIC.json`` and the
``snapshots/`` folder go beside it)."""
MIN_CALIBRATION_SEEDS = 5
KNOWN_KEYS = {
    "profile", "models", "methods", "images", "baselines", "device", "resnet18_weights", "strict_weights", "results",
    "benchmark_rounds", "seed", "strict", "threads", "profiles", "snapshots", "fail_on", "thresholds", "exclude",
    "paired_reruns",
}


@dataclass(frozen=True)
class Settings:
    """Everything that decides which cases run and how."""

    profile: str = "quick"
    models: tuple[str, ...] = DEFAULT_MODELS
    methods: tuple[str, ...] = ()
    """Empty means every registered method."""
    images: Path = SHIPPED_IMAGES
    """The folder of ``manifest.toml`` and the photos (default: the three shipped with xai-eval)."""
    baselines: Path = Path(DEFAULT_BASELINES) / BASELINES_FILE
    """Max sensitivity's baselines file (``baselines``, a folder, names ``FOLDER/max_sensitivity.json``)."""
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
    accept_failures: str | None = None
    """``--xai-accept-failures REASON``: record every sanity check that fails in this run as a known failure with
    this reason (``known_failures.json`` beside the baselines)."""
    paired_reruns: bool = False
    """Rerun every case that changed beyond its floor on the seeds it was recorded under, and decide what the
    change means from the paired differences (:mod:`xai_eval.measure.paired`)."""
    exclude: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """``[tool.xai_eval.exclude."MODEL"]``: per model, the methods that do not apply to it, each with the reason
    (reviewed as data; the summary lists the cases left out)."""
    root: Path = Path(".")
    """The project's folder (pyproject.toml's): where a ``module:callable`` model is imported from."""

    def recording_identity(self) -> dict[str, Any]:
        """What decides the numbers a recording writes: a checkpoint made under another identity is not resumed."""
        from xai_eval.version import __version__

        return {"profile": self.profile, "models": list(self.models), "methods": list(self.methods), "seed": self.seed,
                "calibrate": self.calibrate, "device": self.device, "images": str(self.images),
                "baselines": str(self.baselines), "snapshots": str(self.snapshots_folder),
                "profiles": dict(self.profile_tables), "exclude": dict(self.exclude), "xai_eval": __version__,
                "accept_failures": self.accept_failures}

    @property
    def known_failures_file(self) -> Path:
        """The project's known sanity failures: ``known_failures.json`` in the baselines folder."""
        return self.baselines.parent / "known_failures.json"

    @property
    def snapshots_folder(self) -> Path:
        return self.snapshots if self.snapshots is not None else self.baselines.parent / "snapshots"


def tool_table(path: Path) -> Any:
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


def _pyproject(path: Path | None, rootpath: Path) -> tuple[dict[str, Any], Path, Path | None]:
    if path is None or not path.is_file():
        return {}, rootpath, None
    table = tool_table(path)
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
    table = tool_table(path)
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise XaiEvalError(f"{path}: [tool.xai_eval] must be a table")
    return _profiles_of(table, f"{path} [tool.xai_eval]")


class _Reader:
    """Typed access to one option: the command line first, then ``[tool.xai_eval]``."""

    def __init__(self, options: Mapping[str, Any], table: dict[str, Any], base: Path, path: Path | None,
                 labels: Mapping[str, str]) -> None:
        self.options, self.table, self.base, self.labels = options, table, base, labels
        self.where = f"{path} [tool.xai_eval]" if path else "[tool.xai_eval]"

    def raw(self, option: str, key: str) -> tuple[Any, str] | None:
        value = self.options.get(option)
        if value is not None:
            return value, self.labels.get(option, option)
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
        cli = self.options.get(option)
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


def resolve(options: Mapping[str, Any], pyproject: Path | None, rootpath: Path,
            labels: Mapping[str, str] | None = None) -> Settings:
    """Merge the command line's ``--xai-*`` values (``options``, keyed by option name; None where not given),
    the ``[tool.xai_eval]`` table of ``pyproject`` (None: none) and the defaults into :class:`Settings`.
    ``labels`` name the options in messages (the Python API's arguments), where they are not the options'."""
    table, base, path = _pyproject(pyproject, rootpath)
    read = _Reader(options, table, base, path, labels or {})
    weights = options.get("--xai-resnet18-weights")
    weights_path = Path(weights) if weights else read.path("--xai-resnet18-weights", "resnet18_weights", None)
    calibrate = read.integer("--xai-calibrate", "__no_key__", 0, 0) or 0
    if 0 < calibrate < MIN_CALIBRATION_SEEDS:
        raise XaiEvalError(f"--xai-calibrate: {calibrate} seeds cannot estimate a spread; use at least {MIN_CALIBRATION_SEEDS}")
    profiles = _profiles_of(table, read.where)
    thresholds = table.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise XaiEvalError(f"{read.where} thresholds: expected a table [tool.xai_eval.thresholds] of METHOD = number")
    models = read.names("--xai-model", "models", DEFAULT_MODELS)
    configured = table.get("models", DEFAULT_MODELS)
    known = {*models, *(configured if isinstance(configured, list) else [configured])}
    exclude = _exclude(table.get("exclude", {}), read.where, known)
    fail_on = read.string("--xai-fail-on", "fail_on", DEFAULT_POLICY)
    if fail_on not in POLICIES:
        raise XaiEvalError(f"{read.where} fail_on: expected one of {', '.join(map(repr, POLICIES))}, got {fail_on!r}")
    images = read.path("--xai-images", "images", None) or _default_images(base)
    baselines = read.path("--xai-baselines", "baselines", DEFAULT_BASELINES)
    assert images is not None and baselines is not None
    baselines = baselines_file(baselines)
    strict = read.flag("--xai-strict", "strict")
    return Settings(
        profile=read.string("--xai-profile", "profile", "quick"),
        models=models,
        methods=read.names("--xai-method", "methods", ()),
        images=images,
        baselines=baselines,
        snapshots=read.path("--xai-snapshots", "snapshots", None),
        update_baselines=bool(options.get("--xai-update-baselines")) or calibrate > 0,
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
        exclude=exclude,
        root=base,
        paired_reruns=read.flag("--xai-paired-reruns", "paired_reruns"),
        accept_failures=_reason(options.get("--xai-accept-failures")),
    )


def _reason(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise XaiEvalError("--xai-accept-failures: give the reason the failures are accepted, e.g. "
                           "--xai-accept-failures '50-step IG misses completeness on this photo (the study's setting)'")
    return value.strip()


def _default_images(root: Path) -> Path:
    """A project's images without an ``images`` key: its ``fixtures/images`` when that has a manifest (where
    earlier versions looked), else the three photos shipped with xai-eval."""
    own = root / "fixtures" / "images"
    return own if (own / "manifest.toml").is_file() else SHIPPED_IMAGES


def model_key(spec: str) -> str:
    """How a model is named in ``[tool.xai_eval.exclude]``: its id (``mymodels.net`` for ``mymodels:net``), so
    either spelling of a table name works."""
    return spec.replace(":", ".")


def _exclude(raw: Any, where: str, models: set[str]) -> dict[str, dict[str, str]]:
    """``[tool.xai_eval.exclude."MODEL"]`` tables of ``METHOD = "reason"``, by model id (:func:`model_key`). A
    model must be one the project or the command line names (a run gates only its own; the methods are checked
    against the registry when the session starts)."""
    example = 'e.g. [tool.xai_eval.exclude."mymodels:net"] with LRP = "no LRP rule for its multiplications"'
    known = {model_key(m) for m in models if isinstance(m, str)}
    if not isinstance(raw, dict):
        raise XaiEvalError(f"{where} exclude: expected tables [tool.xai_eval.exclude.\"MODEL\"]; {example}")
    tables: dict[str, dict[str, str]] = {}
    for model, methods in raw.items():
        if not isinstance(methods, dict):
            raise XaiEvalError(f"{where} exclude.{model}: expected a table of METHOD = \"reason\"; {example}")
        for method, reason in methods.items():
            if not isinstance(reason, str) or not reason.strip():
                raise XaiEvalError(f"{where} exclude.\"{model}\".{method}: expected the reason as a non-empty string, "
                                   f"got {reason!r}; {example}")
        if model_key(model) not in known:
            raise XaiEvalError(f"{where} exclude.\"{model}\": {model!r} is not one of the models ({', '.join(sorted(known))}); "
                               "name the model as it is written in models")
        tables[model_key(model)] = dict(methods)
    return tables


def baselines_file(path: Path) -> Path:
    """Max sensitivity's baselines file for a ``baselines`` value: ``path`` itself when it names a ``.json`` file,
    else ``path`` is the baselines folder and the file is ``max_sensitivity.json`` in it."""
    return path if path.suffix == ".json" else path / BASELINES_FILE


def check_outputs(settings: Settings) -> None:
    """Before the run: one line if a file it will write (``--xai-results``, the baselines under
    ``--xai-update-baselines`` or ``--xai-calibrate``) cannot be written there."""
    if settings.results is not None:
        check_writable(settings.results, "--xai-results")
    if settings.update_baselines:
        check_writable(settings.baselines, "--xai-baselines")
    if settings.accept_failures:
        check_writable(settings.known_failures_file, "--xai-accept-failures")
