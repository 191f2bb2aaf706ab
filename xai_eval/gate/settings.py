"""Gate settings: command-line options, ``[tool.xai_eval]`` in pyproject.toml, defaults.

An option given on the command line wins over pyproject.toml, which wins over
the defaults. Paths in pyproject.toml are relative to that file's folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from xai_eval.errors import XaiEvalError

DEFAULT_MODELS = ("efficientnet_lite0", "resnet18")
DEFAULT_IMAGES = "fixtures/images"
DEFAULT_BASELINES = "fixtures/baselines/max_sensitivity.json"
KNOWN_KEYS = {
    "profile", "models", "methods", "images", "baselines", "device", "resnet18_weights", "strict_weights", "results",
    "benchmark_rounds",
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
    update_baselines: bool = False
    strict_weights: bool = False
    resnet18_weights: str | None = None
    device: str = "cpu"
    benchmark_rounds: int = 3
    """Timed rounds per runtime case (after one warm-up round)."""
    results: Path | None = None
    """Where to write every case's max sensitivity and sanity results as JSON (None: don't)."""


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--xai-*`` options (also used by the tests of the option parsing)."""
    group = parser.getgroup("xai-eval", "attribution regression gate (xai-eval)")
    group.addoption("--xai-profile", default=None, help="run profile: quick (default, CI-sized) or paper (study settings)")
    group.addoption(
        "--xai-model", action="append", default=None, metavar="NAME",
        help="model to gate: efficientnet_lite0, resnet18 or module:callable (repeatable; default: pyproject or both built-ins)",
    )
    group.addoption("--xai-method", action="append", default=None, metavar="NAME", help="only this method (repeatable)")
    group.addoption("--xai-images", default=None, metavar="DIR", help="folder with manifest.toml and photos")
    group.addoption("--xai-baselines", default=None, metavar="FILE", help="baselines JSON file")
    group.addoption(
        "--xai-update-baselines", action="store_true", default=False,
        help="accept the measured values: rewrite the entries of the cases that ran",
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
        "--xai-benchmark-rounds", type=int, default=None, metavar="N",
        help="timed rounds per runtime case, after one warm-up (default 3; use more for precise comparisons)",
    )
    group.addoption("--xai-results", default=None, metavar="FILE", help="write every case's results (metric and sanity) as JSON")


def _pyproject(config: pytest.Config) -> tuple[dict[str, Any], Path]:
    inipath = config.inipath
    path = inipath if inipath is not None and inipath.name == "pyproject.toml" else config.rootpath / "pyproject.toml"
    if not path.is_file():
        return {}, config.rootpath
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise XaiEvalError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("tool", {}).get("xai_eval", {})
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise XaiEvalError(f"{path}: [tool.xai_eval] has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
    return table, path.parent


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise XaiEvalError(f"{where}: expected a name or a list of names, got {value!r}")


def resolve(config: pytest.Config) -> Settings:
    """Merge command line, ``[tool.xai_eval]`` and defaults into :class:`Settings`."""
    table, base = _pyproject(config)

    def pick(option: str, key: str, default: Any) -> Any:
        value = config.getoption(option)
        if value is not None:
            return value
        return table.get(key, default)

    images = config.getoption("--xai-images")
    images_path = Path(images) if images else base / table.get("images", DEFAULT_IMAGES)
    baselines = config.getoption("--xai-baselines")
    baselines_path = Path(baselines) if baselines else base / table.get("baselines", DEFAULT_BASELINES)
    cli_weights = config.getoption("--xai-resnet18-weights")
    weights = cli_weights or (str(base / table["resnet18_weights"]) if "resnet18_weights" in table else None)
    results = config.getoption("--xai-results")
    results_path = Path(results) if results else (base / table["results"] if "results" in table else None)
    return Settings(
        profile=str(pick("--xai-profile", "profile", "quick")),
        models=_names(pick("--xai-model", "models", list(DEFAULT_MODELS)), "models"),
        methods=_names(pick("--xai-method", "methods", []), "methods"),
        images=images_path,
        baselines=baselines_path,
        update_baselines=bool(config.getoption("--xai-update-baselines")),
        strict_weights=bool(pick("--xai-strict-weights", "strict_weights", False)),
        resnet18_weights=weights,
        device=str(pick("--xai-device", "device", "cpu")),
        results=results_path,
        benchmark_rounds=_positive_int(pick("--xai-benchmark-rounds", "benchmark_rounds", 3), "--xai-benchmark-rounds"),
    )


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise XaiEvalError(f"{where}: expected a whole number >= 1, got {value!r}")
    return value
