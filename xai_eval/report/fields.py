"""Typed reads of a report's JSON values: a wrong shape is one line naming the file, the entry and the key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError

REMAKE = "re-create the report with: pytest suites/ --benchmark-json=FILE"
MISSING: Any = object()


def _shown(value: Any) -> str:
    """How a wrong value is named in a message: containers by kind, scalars by their JSON text."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class At:
    """A place in a report (the file, and optionally one benchmark entry) whose values are read."""

    path: Path
    entry: str = ""

    def error(self, key: str, problem: str) -> XaiEvalError:
        where = f"{self.entry}: " if self.entry else ""
        return XaiEvalError(f"{self.path}: {where}'{key}' {problem}; {REMAKE}")

    def _check(self, value: Any, key: str, ok: bool, what: str) -> None:
        if value is MISSING:
            raise self.error(key, "is missing")
        if not ok:
            raise self.error(key, f"must be {what}, not {_shown(value)}")

    def obj(self, value: Any, key: str) -> dict[str, Any]:
        self._check(value, key, isinstance(value, dict), "an object")
        return value

    def text(self, value: Any, key: str) -> str:
        self._check(value, key, isinstance(value, str) and value != "", "a non-empty string")
        return value

    def number(self, value: Any, key: str, *, positive: bool = False) -> float:
        """A finite number (a positive one if ``positive``); booleans are not numbers here."""
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (value > 0 or not positive)
        self._check(value, key, ok, "a positive number" if positive else "a finite number")
        return float(value)

    def count(self, value: Any, key: str, *, least: int = 0) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
        self._check(value, key, ok, f"a whole number >= {least}")
        return value

    def optional_count(self, value: Any, key: str) -> int | None:
        return None if value is MISSING or value is None else self.count(value, key)

    def optional_text(self, value: Any, key: str) -> str | None:
        return None if value is MISSING or value is None else self.text(value, key)
