"""A recording that survives interruption: what finished tests recorded, kept beside the baselines until the
run writes them.

A recording run (``--xai-update-baselines`` or ``--xai-calibrate K``) writes the baselines and snapshots once, at
its end, so a run killed on the way leaves every committed file as it was. What its finished tests recorded is
not lost: after each test the controller adds the test's records to ``.xai-eval-recording.json`` in the baselines
folder (atomically). The same record command run again reads it, runs only the tests it does not hold, and
writes everything at its end, as one uninterrupted run would; then the checkpoint is removed. A checkpoint made
under other settings (another profile, seed, calibration, model or method list, device) is not used: it says so
and starts afresh.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from xai_eval.files import atomic_write_text

NAME = ".xai-eval-recording.json"


def signature(settings: dict[str, Any]) -> str:
    """A digest of what decides the recorded numbers (the settings given as JSON-able values)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Checkpoint:
    """The records of the finished tests of an interrupted recording, by node id."""

    def __init__(self, path: Path, digest: str, tests: dict[str, list[list[Any]]] | None = None) -> None:
        self.path = path
        self.digest = digest
        self.tests: dict[str, list[list[Any]]] = tests or {}
        """node id -> its records as ``[property name, value]`` pairs (the test's user properties)."""

    @classmethod
    def resume(cls, folder: Path, digest: str) -> tuple[Checkpoint, str]:
        """The checkpoint in ``folder`` when it was made under ``digest``, and a line on what was found ('' if none)."""
        path = folder / NAME
        if not path.is_file():
            return cls(path, digest), ""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            assert isinstance(data, dict) and isinstance(data.get("tests"), dict)
        except (OSError, ValueError, AssertionError):
            return cls(path, digest), f"{path}: an unreadable checkpoint, not resumed; recording afresh"
        if data.get("settings") != digest:
            return cls(path, digest), f"{path}: made under other settings, not resumed; recording afresh"
        tests = data["tests"]
        return cls(path, digest, tests), f"{path}: resuming an interrupted recording: {len(tests)} finished test(s) kept"

    def add(self, nodeid: str, records: list[list[Any]]) -> None:
        """Keep a finished test's records (written at once, atomically)."""
        self.tests[nodeid] = records
        atomic_write_text(self.path, json.dumps({"settings": self.digest, "tests": self.tests}) + "\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
