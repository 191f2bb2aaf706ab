"""The human-readable baselines file and the comparison against it.

Layout (JSON)::

    {
      "schema_version": 3,
      "metric": "max_sensitivity",
      "profiles": {
        "quick": {
          "efficientnet_lite0": {
            "IG": {"coffee": {"value": 0.641, "seed": 0,
                              "seeds": {"10001": 0.652, "10002": 0.63, "10003": 0.66, "10004": 0.645, "10005": 0.64},
                              "spread": {"min": 0.63, "max": 0.66, "mean": 0.645, "relative": 0.017, "k": 6}}}
          }
        }
      }
    }

``value`` is the case's number at the run's ``seed``; ``seeds`` its numbers at the calibration seeds
(``--xai-calibrate K``), computed by the same code, so that a later change can be rerun on the same seeds
and judged from the paired differences (:mod:`xai_eval.measure.paired`); ``spread`` summarises them all. A
metric that is not defined for a case is recorded as ``"value": null`` with the reason in ``undefined``.
A value is compared at the numeric floor (:mod:`xai_eval.records.floors`): within it the case is unchanged;
beyond it the case changed (:mod:`xai_eval.measure.change`). Files of schema versions 1 and 2 are read (they
have no seeds) and rewritten as version 3.

Every metric has a file of this layout with its name in ``"metric"``: max sensitivity's is the
``--xai-baselines`` file (``baselines``), every other metric's is ``METRIC.json`` in the same folder
(:func:`metric_baselines_path`), so recording one metric never rewrites another's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_text
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.measure.change import ScalarChange, scalar_change
from xai_eval.measure.spread import Spread
from xai_eval.records.floors import SENSITIVITY_ATOL, SENSITIVITY_RTOL
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
UPDATE_FLAG = "--xai-update-baselines"
_KEYS = {1: {"value", "rtol", "atol", "spread"}, 2: {"value", "spread"}, 3: {"value", "undefined", "seed", "seeds", "spread"}}


@dataclass(frozen=True)
class BaselineEntry:
    """The accepted value of one case at the run's seed, its values at the calibration seeds, and their spread."""

    value: float | None
    """None: the metric is not defined for the case (``undefined`` says why)."""
    spread: Spread | None = None
    seed: int = 0
    """The seed ``value`` was computed under."""
    seeds: Mapping[int, float] = field(default_factory=dict)
    """The values under the calibration seeds, by seed (empty: not calibrated)."""
    undefined: str = ""

    def paired_values(self) -> dict[int, float]:
        """Every recorded value by seed: the run seed's and the calibration seeds' (what paired reruns repeat)."""
        return {**dict(self.seeds), **({} if self.value is None else {self.seed: self.value})}

    def compare(self, current: float, *, rtol: float = SENSITIVITY_RTOL, atol: float = SENSITIVITY_ATOL,
                lower_is_better: bool = True, bounds: tuple[float, float] = (-math.inf, math.inf),
                paired: tuple[list[float], list[float]] | None = None, missing_evidence: str = "") -> ScalarChange:
        """``current`` against this value: unchanged within the numeric floor (max sensitivity's unless the
        metric's is given), else what the change means (from ``paired`` values, when given)."""
        assert self.value is not None
        return scalar_change(self.value, current, self.spread, rtol=rtol, atol=atol, lower_is_better=lower_is_better,
                             bounds=bounds, paired=paired, missing_evidence=missing_evidence)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"value": self.value}
        if self.value is None:
            data["undefined"] = self.undefined
        if self.seeds or self.seed:
            data["seed"] = self.seed
        if self.seeds:
            data["seeds"] = {str(seed): value for seed, value in sorted(self.seeds.items())}
        if self.spread is not None:
            data["spread"] = self.spread.to_json()
        return data


def _entry(raw: object, where: str, version: int) -> BaselineEntry:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise XaiEvalError(f"{where}: entry must be an object with 'value' (and optionally 'seed', 'seeds', 'spread')")
    unknown = sorted(set(raw) - _KEYS[version])
    if unknown:
        raise XaiEvalError(f"{where}: unknown key {unknown[0]!r}; an entry has {', '.join(sorted(_KEYS[version]))}")
    value = raw["value"]
    if value is None and version >= 3:
        reason = raw.get("undefined")
        if not isinstance(reason, str) or not reason:
            raise XaiEvalError(f"{where}: a null 'value' (an undefined metric) needs its reason in 'undefined'; "
                               f"record it again with {UPDATE_FLAG}")
        return BaselineEntry(None, undefined=reason, seed=_seed(raw.get("seed", 0), f"{where}.seed"))
    if not _finite(value):
        raise XaiEvalError(f"{where}: 'value' must be a finite number, got {value!r}")
    seeds = raw.get("seeds", {})
    if not isinstance(seeds, Mapping) or not all(_finite(v) for v in seeds.values()):
        raise XaiEvalError(f"{where}.seeds: must be an object of seed -> finite number; recompute it with --xai-calibrate 5")
    entry = BaselineEntry(float(value), _spread(raw.get("spread"), where), _seed(raw.get("seed", 0), f"{where}.seed"),
                          {_seed(seed, f"{where}.seeds"): float(v) for seed, v in seeds.items()})
    return entry


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _seed(raw: object, where: str) -> int:
    try:
        seed = int(raw)  # type: ignore[call-overload]
        assert not isinstance(raw, (bool, float)) and str(seed) == str(raw) and seed >= 0
    except (AssertionError, TypeError, ValueError):
        raise XaiEvalError(f"{where}: {raw!r} is not a seed (a whole number >= 0); recompute it with --xai-calibrate 5") from None
    return seed


def _spread(spread: object, where: str) -> Spread | None:
    if spread is None:
        return None
    try:
        assert isinstance(spread, Mapping) and set(spread) == {"min", "max", "mean", "relative", "k"}
        relative = spread["relative"]
        parsed = Spread(float(spread["min"]), float(spread["max"]), None if relative is None else float(relative),
                        int(spread["k"]), float(spread["mean"]))
        assert all(math.isfinite(v) for v in (parsed.min, parsed.max, parsed.mean))
        assert parsed.relative is None or (math.isfinite(parsed.relative) and parsed.relative >= 0)
        assert parsed.k == spread["k"] and parsed.k >= 2
    except (AssertionError, TypeError, ValueError):
        raise XaiEvalError(
            f"{where}.spread: must be an object with numbers min, max, mean, relative (>= 0, or null where the mean "
            "is 0) and k (>= 2); recompute it with --xai-calibrate 5"
        ) from None
    return parsed


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
            raise XaiEvalError(f"{path}: is a folder, not a baselines file; point {option} at the baselines folder (a "
                               "name without .json) or at a .json file")
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

    def updated(self, accepted: Iterable[tuple[CaseKey, BaselineEntry]], *, rtol: float = SENSITIVITY_RTOL,
                atol: float = SENSITIVITY_ATOL) -> tuple[BaselineStore, int, int]:
        """A store with ``accepted`` entries; entries not in it are kept.

        An accepted entry with seeds (calibrated, or rerun paired in this run) records them and their spread. One
        without keeps the old entry's seeds and spread only while its value is the old one within the numeric
        floor (``rtol``, ``atol``): they were computed by the code that computed it. A value accepted beyond that
        has none until ``--xai-calibrate`` records them, so its next change reads ``unknown``. Returns the new
        store and the counts of updated and new entries.
        """
        from xai_eval.records.floors import within

        entries = dict(self.entries)
        n_updated = n_new = 0
        for key, new in accepted:
            old = entries.get(key)
            if not new.seeds and old is not None and old.value is not None and new.value is not None and (
                within(new.value, old.value, rtol, atol)
            ):
                new = BaselineEntry(new.value, old.spread, old.seed, old.seeds)
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
