"""The committed explanation snapshots and model fingerprints, one pair of files per profile.

Layout of a snapshots folder (default: ``snapshots/`` beside the baselines file)::

    quick.json   {"schema_version": 1, "profile": "quick", "snapshot_size": 56,
                  "models": {"efficientnet_lite0": {
                      "fingerprints": {"coffee": {"target": 967, "target_logit": ..., "top": [...], "top_logits": [...]}},
                      "maps": {"IG": {"coffee": {"scale": ..., "max_relative_l2": 0.02, "max_rank_distance": 0.01,
                                                 "seeds": 5}}}}}}
    quick.npz    one float16 array per map, named MODEL/METHOD/IMAGE (values in [-1, 1]; times scale)

like pytest-regressions' ``ndarrays_regression``: arrays in ``.npz``, everything a reviewer reads in JSON.
Both are written atomically, and only by ``--xai-update-baselines``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_bytes, atomic_write_text
from xai_eval.gate.baselines import UPDATE_FLAG
from xai_eval.measure.fingerprint import Fingerprint
from xai_eval.measure.similarity import SNAPSHOT_SIZE, MapTolerance, Snapshot
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 1
FingerprintKey = tuple[str, str, str]
"""(profile, model, image): a fingerprint belongs to the model and the image, not to a method."""


def fingerprint_key(key: CaseKey) -> FingerprintKey:
    return (key.profile, key.model, key.image)


@dataclass(frozen=True)
class MapEntry:
    snapshot: Snapshot
    tolerance: MapTolerance


class SnapshotStore:
    """Every snapshot and fingerprint of a snapshots folder, loaded eagerly and validated."""

    def __init__(self, folder: Path, maps: dict[CaseKey, MapEntry], fingerprints: dict[FingerprintKey, Fingerprint]) -> None:
        self.folder = folder
        self.maps = maps
        self.fingerprints = fingerprints

    def has_profile(self, profile: str) -> bool:
        return any(k.profile == profile for k in self.maps) or any(k[0] == profile for k in self.fingerprints)

    @classmethod
    def load(cls, folder: Path) -> SnapshotStore:
        if folder.exists() and not folder.is_dir():
            raise XaiEvalError(f"{folder}: is a file, not a snapshots folder; point --xai-snapshots (or snapshots) at a folder")
        maps: dict[CaseKey, MapEntry] = {}
        fingerprints: dict[FingerprintKey, Fingerprint] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            _load_profile(path, maps, fingerprints)
        return cls(folder, maps, fingerprints)

    def updated(
        self, maps: Iterable[tuple[CaseKey, Snapshot, MapTolerance | None]], fingerprints: Iterable[tuple[CaseKey, Fingerprint]]
    ) -> tuple[SnapshotStore, int, int]:
        """A store with these accepted (a map without a calibrated tolerance keeps its entry's, else the
        floors); returns it and the counts of changed and new entries."""
        new_maps, new_prints = dict(self.maps), dict(self.fingerprints)
        n_updated = n_new = 0
        for key, snapshot, tolerance in maps:
            old = new_maps.get(key)
            entry = MapEntry(snapshot, tolerance or (old.tolerance if old else MapTolerance()))
            n_new += old is None
            n_updated += old is not None and not _same_map(old, entry)
            new_maps[key] = entry
        for key, fingerprint in fingerprints:
            fkey = fingerprint_key(key)
            old_print = new_prints.get(fkey)
            n_new += old_print is None
            n_updated += old_print is not None and old_print != fingerprint
            new_prints[fkey] = fingerprint
        return SnapshotStore(self.folder, new_maps, new_prints), n_updated, n_new

    def save(self, profiles: Iterable[str]) -> None:
        """Rewrite the files of ``profiles`` (each atomically; the npz first, so the JSON never names a missing map)."""
        import numpy as np

        for profile in sorted(set(profiles)):
            models: dict[str, dict[str, Any]] = {}
            arrays: dict[str, Any] = {}
            for (p, model, image), fingerprint in sorted(self.fingerprints.items()):
                if p == profile:
                    models.setdefault(model, {"fingerprints": {}, "maps": {}})["fingerprints"][image] = fingerprint.to_json()
            for key in sorted((k for k in self.maps if k.profile == profile), key=lambda k: k.to_list()):
                entry = self.maps[key]
                maps = models.setdefault(key.model, {"fingerprints": {}, "maps": {}})["maps"]
                maps.setdefault(key.method, {})[key.image] = {"scale": entry.snapshot.scale, **entry.tolerance.to_json()}
                arrays[f"{key.model}/{key.method}/{key.image}"] = entry.snapshot.values
            buffer = io.BytesIO()
            np.savez_compressed(buffer, **arrays)
            atomic_write_bytes(self.folder / f"{profile}.npz", buffer.getvalue())
            data = {"schema_version": SCHEMA_VERSION, "profile": profile, "snapshot_size": SNAPSHOT_SIZE, "models": models}
            atomic_write_text(self.folder / f"{profile}.json", json.dumps(data, indent=2) + "\n")


def _same_map(a: MapEntry, b: MapEntry) -> bool:
    import numpy as np

    return a.tolerance == b.tolerance and a.snapshot.scale == b.snapshot.scale and np.array_equal(a.snapshot.values, b.snapshot.values)


def _load_profile(path: Path, maps: dict[CaseKey, MapEntry], fingerprints: dict[FingerprintKey, Fingerprint]) -> None:
    import numpy as np

    fix = f"fix it, or delete it and {path.stem}.npz and record them again with {UPDATE_FLAG}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise XaiEvalError(f"{path}: not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise XaiEvalError(f"{path}: not a schema_version {SCHEMA_VERSION} snapshots file; {fix}")
    profile = path.stem
    if data.get("profile") != profile or not isinstance(data.get("models"), dict):
        raise XaiEvalError(f"{path}: 'profile' must be {profile!r} (the file name) and 'models' an object; {fix}")
    npz = path.with_suffix(".npz")
    try:
        with np.load(npz, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as exc:  # noqa: BLE001 - OSError, BadZipFile, zlib.error, EOFError, ValueError: all one line
        raise XaiEvalError(f"{npz}: cannot read the maps ({type(exc).__name__}); {fix}") from None
    for model, tables in data["models"].items():
        where = f"{path}: models.{model}"
        try:
            for image, raw in tables["fingerprints"].items():
                fingerprints[(profile, model, image)] = Fingerprint.from_json(raw)
            for method, images in tables["maps"].items():
                for image, raw in images.items():
                    name = f"{model}/{method}/{image}"
                    if name not in arrays:
                        raise XaiEvalError(f"{npz}: no array {name!r} for {where}.maps.{method}.{image}; {fix}")
                    if arrays[name].dtype != np.float16 or arrays[name].ndim != 2:
                        raise XaiEvalError(f"{npz}: array {name!r} is {arrays[name].dtype} {arrays[name].shape}, not a 2-D float16 map; {fix}")
                    tolerance = MapTolerance(float(raw["max_relative_l2"]), float(raw["max_rank_distance"]), int(raw["seeds"]))
                    scale = float(raw["scale"])
                    if not all(math.isfinite(v) and v >= 0 for v in (scale, tolerance.max_relative_l2, tolerance.max_rank_distance)):
                        raise XaiEvalError(f"{where}.maps.{method}.{image}: scale and tolerances must be finite numbers >= 0; {fix}")
                    maps[CaseKey(profile, model, method, image)] = MapEntry(Snapshot(arrays[name], scale), tolerance)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise XaiEvalError(f"{where}: malformed entry ({type(exc).__name__}: {exc}); {fix}") from None

