"""The human-readable baselines file and the comparison against it.

Layout (JSON)::

    {
      "schema_version": 2,
      "metric": "max_sensitivity",
      "profiles": {
        "quick": {
          "efficientnet_lite0": {
            "IG": {"coffee": {"value": 0.641,
                              "spread": {"min": 0.63, "max": 0.66, "mean": 0.645, "relative": 0.017, "k": 6}}}
          }
        }
      }
    }

A value is compared at the numeric floor (:mod:`xai_eval.records.floors`): within it the case is
unchanged; beyond it the case changed, and its ``spread`` under other seeds (``--xai-calibrate K``) says
what the change means (:mod:`xai_eval.measure.change`). Files of schema version 1 (with ``rtol`` and
``atol``, which no longer decide anything) are read and rewritten as version 2.

Every metric has a file of this layout with its name in ``"metric"``: max sensitivity's is the
``--xai-baselines`` file (``baselines``), every other metric's is ``METRIC.json`` in the same folder
(:func:`metric_baselines_path`), so recording one metric never rewrites another's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_text
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.measure.change import ScalarChange, noise_interval, scalar_change
from xai_eval.measure.spread import Spread
from xai_eval.records.floors import SENSITIVITY_ATOL, SENSITIVITY_RTOL
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
UPDATE_FLAG = "--xai-update-baselines"
_KEYS = {1: {"value", "rtol", "atol", "spread"}, 2: {"value", "spread"}}


@dataclass(frozen=True)
class BaselineEntry:
    """The accepted value of one case, and its spread under other seeds when calibrated."""

    value: float
    spread: Spread | None = None

    def compare(self, current: float, *, rtol: float = SENSITIVITY_RTOL, atol: float = SENSITIVITY_ATOL,
                lower_is_better: bool = True) -> ScalarChange:
        """``current`` against this value: unchanged within the numeric floor (max sensitivity's unless the
        metric's is given), else what the change means."""
        return scalar_change(self.value, current, self.spread, rtol=rtol, atol=atol, lower_is_better=lower_is_better)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"value": self.value}
        if self.spread is not None:
            data["spread"] = self.spread.to_json()
        return data


def _entry(raw: object, where: str, version: int) -> BaselineEntry:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise XaiEvalError(f"{where}: entry must be an object with 'value' (and optionally 'spread')")
    unknown = sorted(set(raw) - _KEYS[version])
    if unknown:
        raise XaiEvalError(f"{where}: unknown key {unknown[0]!r}; an entry has {' and '.join(sorted(_KEYS[version]))}")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise XaiEvalError(f"{where}: 'value' must be a finite number, got {value!r}")
    spread = raw.get("spread")
    if spread is None:
        return BaselineEntry(float(value))
    try:
        assert isinstance(spread, Mapping) and set(spread) == {"min", "max", "mean", "relative", "k"}
        parsed = Spread(float(spread["min"]), float(spread["max"]), float(spread["relative"]), int(spread["k"]),
                        float(spread["mean"]))
        assert all(math.isfinite(v) for v in (parsed.min, parsed.max, parsed.mean, parsed.relative))
        assert parsed.k == spread["k"] and parsed.k >= 2 and parsed.relative >= 0
    except (AssertionError, TypeError, ValueError):
        raise XaiEvalError(
            f"{where}.spread: must be an object with numbers min, max, mean, relative (>= 0) and k (>= 2); "
            "recompute it with --xai-calibrate 5"
        ) from None
    return BaselineEntry(float(value), parsed)


def metric_baselines_path(baselines: Path, metric: str) -> Path:
    """Where ``metric``'s baselines live: ``baselines`` itself for max sensitivity, ``METRIC.json`` beside it
    for any other metric."""
    return baselines if metric == MAX_SENSITIVITY else baselines.parent / f"{metric}.json"


class BaselineStore:
    """All entries of one metric's baselines file, loaded eagerly and validated."""

    def __init__(self, path: Path, entries: dict[CaseKey, BaselineEntry], metric: str = MAX_SENSITIVITY) -> None:
        self.path = path
        self.entries = entries
        self.metric = metric

    @classmethod
    def load(cls, path: Path, metric: str = MAX_SENSITIVITY) -> BaselineStore:
        """Read ``path`` (the baselines of ``metric``); a missing file is an empty store. Malformed files raise one line."""
        if path.is_dir():
            option = "--xai-baselines (or baselines)" if metric == MAX_SENSITIVITY else f"the {metric} baselines ({path.name} beside --xai-baselines)"
            raise XaiEvalError(f"{path}: is a folder, not a baselines file; point {option} at a .json file")
        if not path.exists():
            return cls(path, {}, metric)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise XaiEvalError(f"{path}: cannot read the baselines file ({exc.strerror}); make it readable") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise XaiEvalError(f"{path}: not valid JSON ({exc}); fix it or delete it and run with {UPDATE_FLAG}") from None
        if not isinstance(data, dict):
            raise XaiEvalError(f"{path}: top level must be a JSON object with 'schema_version' and 'profiles'")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise XaiEvalError(
                f"{path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION}); "
                f"regenerate it with {UPDATE_FLAG}"
            )
        recorded = data.get("metric", metric)
        if recorded != metric:
            raise XaiEvalError(
                f"{path}: holds the baselines of metric {recorded!r}, not of {metric!r}; every metric has its own file "
                f"(max sensitivity's is --xai-baselines, another metric's is METRIC.json beside it): give another file"
            )
        profiles = data.get("profiles")
        if not isinstance(profiles, dict):
            raise XaiEvalError(f"{path}: 'profiles' must be an object of profile -> model -> method -> image entries")
        entries: dict[CaseKey, BaselineEntry] = {}
        for profile, models in profiles.items():
            for model, methods in _mapping(models, f"{path}: profiles.{profile}").items():
                for method, images in _mapping(methods, f"{path}: profiles.{profile}.{model}").items():
                    for image, raw in _mapping(images, f"{path}: profiles.{profile}.{model}.{method}").items():
                        key = CaseKey(profile, model, method, image)
                        entries[key] = _entry(raw, f"{path}: profiles.{profile}.{model}.{method}.{image}", version)
        return cls(path, entries, metric)

    def has_profile(self, profile: str) -> bool:
        return any(key.profile == profile for key in self.entries)

    def validate(self, profiles: Iterable[str], methods: Iterable[str], models: Iterable[str]) -> None:
        """One line for the first entry whose profile or method is unknown, or whose model is neither
        known nor a ``module.callable`` id: such an entry would never be checked."""
        known_profiles, known_methods, known_models = set(profiles), set(methods), set(models)
        for key in self.entries:
            where = f"{self.path}: profiles.{key.profile}"
            if key.profile not in known_profiles:
                raise XaiEvalError(f"{where}: unknown profile; known: {', '.join(sorted(known_profiles))} (fix or remove the entry)")
            if key.model not in known_models and "." not in key.model:
                raise XaiEvalError(f"{where}.{key.model}: unknown model; use a built-in name or a module.callable id")
            if key.method not in known_methods:
                raise XaiEvalError(
                    f"{where}.{key.model}.{key.method}: unknown method; known: {', '.join(sorted(known_methods))} "
                    "(fix or remove the entry, or register the method)"
                )

    def updated(self, values: Iterable[tuple[CaseKey, float, Spread | None]]) -> tuple[BaselineStore, int, int]:
        """A store with ``values`` accepted; entries not in ``values`` are kept.

        A value with a spread (calibration) records that spread. One without keeps the entry's only while
        that spread still describes it (the value is within what another seed gives); a value accepted
        beyond it has no spread until ``--xai-calibrate`` measures one, so its next change reads
        ``unknown``. Non-finite values are not accepted. Returns the new store and the counts of updated and new entries.
        """
        entries = dict(self.entries)
        n_updated = n_new = 0
        for key, value, spread in values:
            if not math.isfinite(value):
                continue
            old = entries.get(key)
            if spread is None and old is not None and old.spread is not None:
                low, high = noise_interval(old.spread)
                spread = old.spread if low <= value <= high else None
            new = BaselineEntry(value, spread)
            if old is None:
                n_new += 1
            elif old != new:
                n_updated += 1
            entries[key] = new
        return BaselineStore(self.path, entries, self.metric), n_updated, n_new

    def to_json(self) -> dict[str, object]:
        profiles: dict[str, dict[str, dict[str, dict[str, dict[str, object]]]]] = {}
        for key in sorted(self.entries, key=lambda k: (k.profile, k.model, k.method, k.image)):
            profiles.setdefault(key.profile, {}).setdefault(key.model, {}).setdefault(key.method, {})[key.image] = (
                self.entries[key].to_json()
            )
        return {"schema_version": SCHEMA_VERSION, "metric": self.metric, "profiles": profiles}

    def save(self) -> None:
        """Write atomically: a temp file in the same folder, then ``os.replace``."""
        atomic_write_text(self.path, json.dumps(self.to_json(), indent=2) + "\n")


def _mapping(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise XaiEvalError(f"{where}: expected a JSON object")
    return raw
