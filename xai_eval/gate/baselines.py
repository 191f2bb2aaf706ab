"""The human-readable baselines file and the comparison against it.

Layout (JSON)::

    {
      "schema_version": 1,
      "metric": "max_sensitivity",
      "profiles": {
        "quick": {
          "efficientnet_lite0": {
            "IG": {"coffee": {"value": 0.123, "rtol": 0.1, "atol": 0.001}}
          }
        }
      }
    }

A case passes when ``value_measured <= value + atol + rtol * |value|``. A value
below ``value - (atol + rtol * |value|)`` is an improvement: it passes and is
listed so the baseline can be tightened.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_text
from xai_eval.measure.spread import Spread
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 1
DEFAULT_RTOL = 0.10
DEFAULT_ATOL = 1e-3
UPDATE_FLAG = "--xai-update-baselines"
Status = Literal["pass", "improved", "regressed", "missing", "invalid"]


@dataclass(frozen=True)
class BaselineEntry:
    """The accepted value of one case and how far it may move."""

    value: float
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    spread: Spread | None = None
    """The value's spread under other seeds, when calibrated (``--xai-calibrate``)."""

    @property
    def margin(self) -> float:
        return self.atol + self.rtol * abs(self.value)

    @property
    def threshold(self) -> float:
        return self.value + self.margin

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"value": self.value, "rtol": self.rtol, "atol": self.atol}
        if self.spread is not None:
            data["spread"] = self.spread.to_json()
        return data


@dataclass(frozen=True)
class Verdict:
    status: Status
    value: float
    entry: BaselineEntry | None

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "improved")


def _entry(raw: object, where: str) -> BaselineEntry:
    if not isinstance(raw, Mapping) or "value" not in raw:
        raise XaiEvalError(f"{where}: entry must be an object with 'value', 'rtol', 'atol' (and optionally 'spread')")
    unknown = sorted(set(raw) - {"value", "rtol", "atol", "spread"})
    if unknown:
        raise XaiEvalError(f"{where}: unknown key {unknown[0]!r}; an entry has value, rtol, atol and spread")
    try:
        entry = BaselineEntry(float(raw["value"]), float(raw.get("rtol", DEFAULT_RTOL)), float(raw.get("atol", DEFAULT_ATOL)))
    except (TypeError, ValueError):
        raise XaiEvalError(f"{where}: 'value', 'rtol' and 'atol' must be numbers") from None
    if not all(math.isfinite(x) for x in (entry.value, entry.rtol, entry.atol)) or entry.rtol < 0 or entry.atol < 0:
        raise XaiEvalError(f"{where}: value must be finite and rtol/atol finite and >= 0")
    spread = raw.get("spread")
    if spread is None:
        return entry
    try:
        assert isinstance(spread, Mapping) and set(spread) == {"min", "max", "mean", "relative", "k"}
        parsed = Spread(float(spread["min"]), float(spread["max"]), float(spread["relative"]), int(spread["k"]),
                        float(spread["mean"]))
        assert all(math.isfinite(v) for v in (parsed.min, parsed.max, parsed.mean, parsed.relative))
        assert parsed.k == spread["k"] and parsed.k >= 2
    except (AssertionError, TypeError, ValueError):
        raise XaiEvalError(
            f"{where}.spread: must be an object with numbers min, max, mean, relative and k; "
            "recompute it with --xai-calibrate 5"
        ) from None
    return BaselineEntry(entry.value, entry.rtol, entry.atol, parsed)


class BaselineStore:
    """All entries of one baselines file, loaded eagerly and validated."""

    def __init__(self, path: Path, entries: dict[CaseKey, BaselineEntry]) -> None:
        self.path = path
        self.entries = entries

    @classmethod
    def load(cls, path: Path) -> BaselineStore:
        """Read ``path``; a missing file is an empty store. Malformed files raise one line."""
        if path.is_dir():
            raise XaiEvalError(f"{path}: is a folder, not a baselines file; point --xai-baselines (or baselines) at a .json file")
        if not path.exists():
            return cls(path, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise XaiEvalError(f"{path}: not valid JSON ({exc}); fix it or delete it and run with {UPDATE_FLAG}") from None
        if not isinstance(data, dict):
            raise XaiEvalError(f"{path}: top level must be a JSON object with 'schema_version' and 'profiles'")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise XaiEvalError(
                f"{path}: schema_version {version!r} is not supported (expected {SCHEMA_VERSION}); "
                f"regenerate it with {UPDATE_FLAG}"
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
                        entries[key] = _entry(raw, f"{path}: profiles.{profile}.{model}.{method}.{image}")
        return cls(path, entries)

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

    def judge(self, key: CaseKey, value: float) -> Verdict:
        entry = self.entries.get(key)
        if not math.isfinite(value):
            return Verdict("invalid", value, entry)
        if entry is None:
            return Verdict("missing", value, None)
        if value > entry.threshold:
            return Verdict("regressed", value, entry)
        if value < entry.value - entry.margin:
            return Verdict("improved", value, entry)
        return Verdict("pass", value, entry)

    def updated(self, values: Iterable[tuple[CaseKey, float, Spread | None]]) -> tuple[BaselineStore, int, int]:
        """A store with ``values`` accepted; entries not in ``values`` are kept.

        A value with a spread (calibration) gets the rtol derived from it; one without keeps the entry's
        tolerances and spread. Non-finite values are not accepted. Returns the new store and the counts
        of updated and new entries.
        """
        from xai_eval.measure.spread import calibrated_rtol

        entries = dict(self.entries)
        n_updated = n_new = 0
        for key, value, spread in values:
            if not math.isfinite(value):
                continue
            old = entries.get(key)
            if spread is not None:
                new = BaselineEntry(value, calibrated_rtol(value, spread), old.atol if old else DEFAULT_ATOL, spread)
            elif old is None:
                new = BaselineEntry(value)
            else:
                new = BaselineEntry(value, old.rtol, old.atol, old.spread)
            if old is None:
                n_new += 1
            elif old != new:
                n_updated += 1
            entries[key] = new
        return BaselineStore(self.path, entries), n_updated, n_new

    def to_json(self) -> dict[str, object]:
        profiles: dict[str, dict[str, dict[str, dict[str, dict[str, object]]]]] = {}
        for key in sorted(self.entries, key=lambda k: (k.profile, k.model, k.method, k.image)):
            profiles.setdefault(key.profile, {}).setdefault(key.model, {}).setdefault(key.method, {})[key.image] = (
                self.entries[key].to_json()
            )
        return {"schema_version": SCHEMA_VERSION, "metric": "max_sensitivity", "profiles": profiles}

    def save(self) -> None:
        """Write atomically: a temp file in the same folder, then ``os.replace``."""
        atomic_write_text(self.path, json.dumps(self.to_json(), indent=2) + "\n")


def _mapping(raw: object, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise XaiEvalError(f"{where}: expected a JSON object")
    return raw
