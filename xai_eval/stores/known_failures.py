"""Known failures of the sanity checks, as data a person reviews like a baseline.

A sanity check that fails for a known, accepted reason (50-step IG misses completeness on a photo; Guided
Backprop ignores the model's top layers) is recorded per (profile, model, method, photo, check) with that
reason, in ``known_failures.json`` in the baselines folder::

    {
      "schema_version": 1,
      "known_failures": [
        {"profile": "paper", "model": "efficientnet_lite0", "method": "IG", "image": "hopper", "check": "completeness",
         "reason": "50-step IG misses completeness by 17.7 % on hopper (the study's setting)"}
      ]
    }

The gate runs an accepted failure as a strict xfail: it keeps failing, or the run fails and says to remove the
entry. ``--xai-accept-failures REASON`` writes the entries of the sanity checks that fail in a run (the failure
message prints that command). ``"*"`` in a field matches every value; the shipped defaults
(:data:`SHIPPED`) use it for a failure a paper reports for every model and photo.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_text
from xai_eval.records.keys import CaseKey

FILE = "known_failures.json"
SCHEMA_VERSION = 1
ACCEPT_OPTION = "--xai-accept-failures"
FIELDS = ("profile", "model", "method", "image", "check")
ANY = "*"


@dataclass(frozen=True)
class KnownFailure:
    profile: str
    model: str
    method: str
    image: str
    check: str
    reason: str

    def matches(self, key: CaseKey, check: str) -> bool:
        wanted = (key.profile, key.model, key.method, key.image, check)
        return all(mine in (ANY, theirs) for mine, theirs in zip(self.fields(), wanted))

    def fields(self) -> tuple[str, ...]:
        return (self.profile, self.model, self.method, self.image, self.check)

    def to_json(self) -> dict[str, str]:
        return {**dict(zip(FIELDS, self.fields())), "reason": self.reason}


SHIPPED = (
    KnownFailure(ANY, ANY, "GuidedBackprop", ANY, "randomization",
                 "Adebayo et al. 2018, 'Sanity Checks for Saliency Maps' (NeurIPS), Sec. 4: Guided Backprop is invariant "
                 "to randomising the higher layers of the model"),
)
"""Failures a paper reports for every model and photo, known without a file. Unlike a project's entry, a
shipped one is not strict: a model on which the check passes (an untrained one, say) passes it, since the
project has no entry to remove."""
SHIPPED_SOURCE = "xai-eval's shipped known failures"


def is_strict(where: str) -> bool:
    """Whether a known failure said ``where`` (:meth:`KnownFailures.reason`'s second part) fails the run when it
    passes: a project's entry does (remove it), a shipped one does not."""
    return where != SHIPPED_SOURCE


class KnownFailures:
    """The project's known failures (``known_failures.json`` in the baselines folder) and the shipped ones."""

    def __init__(self, path: Path, entries: Iterable[KnownFailure] = ()) -> None:
        self.path = path
        self.entries = tuple(entries)

    @classmethod
    def load(cls, path: Path) -> KnownFailures:
        if path.is_dir():
            raise XaiEvalError(f"{path}: is a folder, not a known-failures file; remove it ({FILE} is a JSON file)")
        if not path.exists():
            return cls(path)
        fix = f"fix it, or delete it and accept the failures again with {ACCEPT_OPTION} REASON"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise XaiEvalError(f"{path}: cannot read it ({exc.strerror}); make it readable") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise XaiEvalError(f"{path}: not valid JSON ({exc}); {fix}") from None
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or not isinstance(
            data.get("known_failures"), list
        ):
            raise XaiEvalError(f"{path}: not a schema_version {SCHEMA_VERSION} known-failures file with a 'known_failures' "
                               f"list; {fix}")
        entries = []
        for index, raw in enumerate(data["known_failures"]):
            where = f"{path}: known_failures[{index}]"
            if not isinstance(raw, Mapping) or set(raw) != {*FIELDS, "reason"}:
                raise XaiEvalError(f"{where}: must be an object with {', '.join(FIELDS)} and reason; {fix}")
            if not all(isinstance(raw[k], str) and raw[k].strip() for k in (*FIELDS, "reason")):
                raise XaiEvalError(f"{where}: every field must be a non-empty string (\"*\" matches any); {fix}")
            entries.append(KnownFailure(*(raw[k] for k in FIELDS), raw["reason"]))
        return cls(path, entries)

    def reason(self, key: CaseKey, check: str) -> tuple[str, str]:
        """Why ``check`` of ``key`` is a known failure, and where that is said ('' and '' if it is not)."""
        for entry in self.entries:
            if entry.matches(key, check):
                return entry.reason, str(self.path)
        for entry in SHIPPED:
            if entry.matches(key, check):
                return entry.reason, SHIPPED_SOURCE
        return "", ""

    def accepted(self, failures: Iterable[tuple[CaseKey, str]], reason: str) -> tuple[KnownFailures, int]:
        """A store with these (case, check) failures accepted for ``reason``; the count of new entries."""
        entries = list(self.entries)
        new = 0
        for key, check in failures:
            if not any(e.matches(key, check) for e in entries):
                entries.append(KnownFailure(key.profile, key.model, key.method, key.image, check, reason))
                new += 1
        return KnownFailures(self.path, entries), new

    def save(self) -> None:
        entries = sorted((e.to_json() for e in self.entries), key=lambda e: tuple(e[k] for k in FIELDS))
        atomic_write_text(self.path, json.dumps({"schema_version": SCHEMA_VERSION, "known_failures": entries}, indent=2) + "\n")
