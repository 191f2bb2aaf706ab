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
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 1
DEFAULT_RTOL = 0.10
DEFAULT_ATOL = 1e-3
UPDATE_FLAG = "--xai-update-baselines"
Status = Literal["pass", "improved", "regressed", "missing"]


@dataclass(frozen=True)
class BaselineEntry:
    """The accepted value of one case and how far it may move."""

    value: float
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    @property
    def margin(self) -> float:
        return self.atol + self.rtol * abs(self.value)

    @property
    def threshold(self) -> float:
        return self.value + self.margin

    def to_json(self) -> dict[str, float]:
        return {"value": self.value, "rtol": self.rtol, "atol": self.atol}


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
        raise XaiEvalError(f"{where}: entry must be an object with 'value', 'rtol', 'atol'")
    try:
        entry = BaselineEntry(float(raw["value"]), float(raw.get("rtol", DEFAULT_RTOL)), float(raw.get("atol", DEFAULT_ATOL)))
    except (TypeError, ValueError):
        raise XaiEvalError(f"{where}: 'value', 'rtol' and 'atol' must be numbers") from None
    if not all(math.isfinite(x) for x in (entry.value, entry.rtol, entry.atol)) or entry.rtol < 0 or entry.atol < 0:
        raise XaiEvalError(f"{where}: value must be finite and rtol/atol finite and >= 0")
    return entry


class BaselineStore:
    """All entries of one baselines file, loaded eagerly and validated."""

    def __init__(self, path: Path, entries: dict[CaseKey, BaselineEntry]) -> None:
        self.path = path
        self.entries = entries

    @classmethod
    def load(cls, path: Path) -> BaselineStore:
        """Read ``path``; a missing file is an empty store. Malformed files raise one line."""
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

    def judge(self, key: CaseKey, value: float) -> Verdict:
        entry = self.entries.get(key)
        if entry is None:
            return Verdict("missing", value, None)
        if value > entry.threshold:
            return Verdict("regressed", value, entry)
        if value < entry.value - entry.margin:
            return Verdict("improved", value, entry)
        return Verdict("pass", value, entry)

    def updated(self, values: Iterable[tuple[CaseKey, float]]) -> tuple[BaselineStore, int, int]:
        """A store with ``values`` accepted; keeps tolerances and entries not in ``values``.

        Returns the new store and the counts of updated and new entries.
        """
        entries = dict(self.entries)
        n_updated = n_new = 0
        for key, value in values:
            old = entries.get(key)
            if old is None:
                entries[key] = BaselineEntry(value)
                n_new += 1
            elif old.value != value:
                entries[key] = BaselineEntry(value, old.rtol, old.atol)
                n_updated += 1
        return BaselineStore(self.path, entries), n_updated, n_new

    def to_json(self) -> dict[str, object]:
        profiles: dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]] = {}
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
