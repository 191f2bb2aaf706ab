"""The team's own quality bar: ``[tool.xai_eval.thresholds]``, a max sensitivity no case may exceed.

A baseline says what a case measured; a threshold says what the team accepts, whatever was measured::

    [tool.xai_eval.thresholds]
    IG = 1.0                 # every profile and model
    "*" = 2.0                # every other method

    [tool.xai_eval.thresholds.paper]
    IG = 0.9                 # the paper profile

    [tool.xai_eval.thresholds.paper.efficientnet_lite0]
    IG = 0.8                 # the paper profile, this model

The most specific entry wins: profile and model, then profile, then every profile; in each, the method's
own entry before ``"*"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.records.keys import CaseKey

ANY_METHOD = "*"
Scope = tuple[str | None, str | None, str]
"""(profile or None for every profile, model or None for every model, method or ``*``)."""


@dataclass(frozen=True)
class Threshold:
    limit: float
    where: str
    """The table and key it came from, e.g. ``[tool.xai_eval.thresholds.paper] IG``."""


@dataclass(frozen=True)
class Thresholds:
    entries: Mapping[Scope, Threshold]

    def of(self, key: CaseKey, profile_base: str = "") -> Threshold | None:
        """The most specific threshold for ``key`` (a user profile's own table, else its base profile's)."""
        profiles = [key.profile] + ([profile_base] if profile_base and profile_base != key.profile else []) + [None]
        for profile in profiles:
            for model in ((key.model, None) if profile is not None else (None,)):
                for method in (key.method, ANY_METHOD):
                    found = self.entries.get((profile, model, method))
                    if found is not None:
                        return found
        return None


def _table_name(config_file: str, *parts: str) -> str:
    suffix = "".join(f".{part}" if part.isidentifier() else f'."{part}"' for part in parts)
    return f"{config_file} [tool.xai_eval.thresholds{suffix}]"


def parse_thresholds(
    table: Mapping[str, Any], *, profiles: Iterable[str], methods: Iterable[str], models: Iterable[str], config_file: str
) -> Thresholds:
    """Validate ``[tool.xai_eval.thresholds]``; one-line errors naming the table and key."""
    known_profiles, known_methods, known_models = set(profiles), {*methods, ANY_METHOD}, set(models)
    entries: dict[Scope, Threshold] = {}

    def limit(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise XaiEvalError(f"{where}: a threshold must be a finite number > 0 (the largest max sensitivity accepted), "
                               f"got {value!r}")
        return float(value)

    def methods_of(values: Mapping[str, Any], profile: str | None, model: str | None, parts: tuple[str, ...],
                   nested: str) -> None:
        name = _table_name(config_file, *parts)
        for key, value in values.items():
            if isinstance(value, Mapping) and nested:
                continue
            if key not in known_methods:
                also = f" (or a table of a {nested})" if nested else ""
                raise XaiEvalError(f"{name} {key}: unknown method; use one of {', '.join(sorted(known_methods))}{also}")
            entries[(profile, model, key)] = Threshold(limit(value, f"{name} {key}"), f"{name} {key}")

    methods_of(table, None, None, (), "profile")
    for profile, per_profile in table.items():
        if not isinstance(per_profile, Mapping):
            continue
        if profile not in known_profiles:
            raise XaiEvalError(f"{_table_name(config_file, profile)}: {profile!r} is not a profile; use one of "
                               f"{', '.join(sorted(known_profiles))} (or a method name with a number)")
        methods_of(per_profile, profile, None, (profile,), "model")
        for model, per_model in per_profile.items():
            if not isinstance(per_model, Mapping):
                continue
            if model not in known_models and "." not in model:
                raise XaiEvalError(f"{_table_name(config_file, profile, model)}: {model!r} is not a model; use a built-in "
                                   "name or a module.callable id")
            methods_of(per_model, profile, model, (profile, model), "")
    return Thresholds(entries)
