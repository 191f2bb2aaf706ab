"""The committed explanation snapshots and model fingerprints, one pair of files per profile.

Layout of a snapshots folder (default: ``snapshots/`` beside the baselines file)::

    quick.json   {"schema_version": 3, "profile": "quick", "snapshot_size": 56,
                  "models": {"efficientnet_lite0": {
                      "fingerprints": {"coffee": {"target": 967, "target_logit": ..., "top": [...], "top_logits": [...],
                                                  "gradient": {"pooled": [64 numbers], "channel_norms": [3 numbers]}}},
                      "maps": {"IG": {"coffee": {"scale": ..., "channel_norms": [3 numbers], "seed": 0,
                                                 "seeds": {"10001": {"scale": ..., "channel_norms": [3 numbers]}, ...},
                                                 "noise": {"relative_l2": ..., "rank_distance": ..., "channel": ...,
                                                           "seeds": 5}}}}}}}
    quick.npz    one float16 array per map, named MODEL/METHOD/IMAGE (values in [-1, 1]; times scale), and one per
                 calibration seed, MODEL/METHOD/IMAGE@SEED

like pytest-regressions' ``ndarrays_regression``: arrays in ``.npz``, everything a reviewer reads in JSON.
``seeds`` are the map under the calibration seeds (``--xai-calibrate K``): what a paired rerun repeats; ``noise``
is how far they move it (shown, unpaired, where there is no paired evidence; null until calibrated). Both
files are written atomically, only by ``--xai-update-baselines``, and byte for byte the same for the same
values (sorted keys; zip members stored with a fixed date, mode and host: :func:`_npz_bytes`). Version 2
files (without seeds) are read.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.files import atomic_write_bytes, atomic_write_text
from xai_eval.stores.baselines import UPDATE_FLAG
from xai_eval.measure.fingerprint import Fingerprint
from xai_eval.measure.similarity import SNAPSHOT_SIZE, MapNoise, Snapshot
from xai_eval.records.keys import CaseKey

SCHEMA_VERSION = 3
READABLE_VERSIONS = (2, 3)
FingerprintKey = tuple[str, str, str]
"""(profile, model, image): a fingerprint belongs to the model and the image, not to a method."""


def fingerprint_key(key: CaseKey) -> FingerprintKey:
    return (key.profile, key.model, key.image)


@dataclass(frozen=True)
class MapEntry:
    snapshot: Snapshot
    noise: MapNoise | None
    """How far other seeds move the map (None: never calibrated)."""
    seed: int = 0
    """The seed ``snapshot`` was computed under."""
    seeds: Mapping[int, Snapshot] = field(default_factory=dict)
    """The map under the calibration seeds, by seed (empty: not calibrated)."""

    def paired_snapshots(self) -> dict[int, Snapshot]:
        """Every recorded map by seed: the run seed's and the calibration seeds' (what paired reruns repeat)."""
        return {**dict(self.seeds), self.seed: self.snapshot}


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
        self, maps: Iterable[tuple[CaseKey, MapEntry] | tuple[CaseKey, Snapshot, MapNoise | None]],
        fingerprints: Iterable[tuple[CaseKey, Fingerprint]],
    ) -> tuple[SnapshotStore, int, int]:
        """A store with these accepted (``maps``: ``(key, MapEntry)``, or ``(key, snapshot, noise)`` for a map without
        seeds); returns it and the counts of changed and new entries.

        A map accepted with its seeds (calibrated, or rerun paired in this run) records them and their noise. One
        without keeps the old entry's seeds and noise only while it is the old map within the numeric floor: they
        were computed by the code that computed it. A map accepted beyond that has none until ``--xai-calibrate``
        records them, so its next change reads ``unknown``."""
        from xai_eval.measure.similarity import distance, unchanged

        new_maps, new_prints = dict(self.maps), dict(self.fingerprints)
        n_updated = n_new = 0
        for item in maps:
            key, entry = (item[0], MapEntry(item[1], item[2])) if len(item) == 3 else item  # type: ignore[misc]
            old = new_maps.get(key)
            if not entry.seeds and old is not None and unchanged(distance(entry.snapshot, old.snapshot)):
                entry = MapEntry(entry.snapshot, entry.noise or old.noise, old.seed, old.seeds)
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
                maps.setdefault(key.method, {})[key.image] = {
                    "scale": entry.snapshot.scale, "channel_norms": list(entry.snapshot.channel_norms),
                    "noise": None if entry.noise is None else entry.noise.to_json(), "seed": entry.seed,
                    **({"seeds": {str(seed): {"scale": other.scale, "channel_norms": list(other.channel_norms)}
                                  for seed, other in sorted(entry.seeds.items())}} if entry.seeds else {}),
                }
                arrays[f"{key.model}/{key.method}/{key.image}"] = entry.snapshot.values
                for seed, other in entry.seeds.items():
                    arrays[f"{key.model}/{key.method}/{key.image}@{seed}"] = other.values
            atomic_write_bytes(self.folder / f"{profile}.npz", _npz_bytes(arrays))
            data = {"schema_version": SCHEMA_VERSION, "profile": profile, "snapshot_size": SNAPSHOT_SIZE, "models": models}
            atomic_write_text(self.folder / f"{profile}.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def _npz_bytes(arrays: dict[str, Any]) -> bytes:
    """An ``.npz`` that ``numpy.load`` reads, written member by member so that the same arrays give the same
    bytes on every machine: sorted names, a fixed date, mode and host system, sizes known up front (no zip64
    records, whose presence ``numpy.savez_compressed`` leaves to the zipfile version), and stored, not
    deflated (a deflate stream depends on the zlib build; compressing saves only a sixth here)."""
    import zipfile

    import numpy as np

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr, info.create_system = zipfile.ZIP_STORED, 0o644 << 16, 3
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _same_map(a: MapEntry, b: MapEntry) -> bool:
    return (a.noise == b.noise and a.seed == b.seed and _same_snapshot(a.snapshot, b.snapshot)
            and a.seeds.keys() == b.seeds.keys() and all(_same_snapshot(a.seeds[s], b.seeds[s]) for s in a.seeds))


def _same_snapshot(a: Snapshot, b: Snapshot) -> bool:
    import numpy as np

    return a.scale == b.scale and a.channel_norms == b.channel_norms and np.array_equal(a.values, b.values)


def _numbers(raw: Any, where: str, fix: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                                            for v in raw):
        raise XaiEvalError(f"{where}: must be a list of finite numbers >= 0; {fix}")
    return tuple(float(v) for v in raw)


def _noise(raw: Any, where: str, fix: str) -> MapNoise | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"relative_l2", "rank_distance", "channel", "seeds"}:
        raise XaiEvalError(f"{where}: must be null or an object with relative_l2, rank_distance, channel and seeds; {fix}")
    limits = [raw[k] for k in ("relative_l2", "rank_distance", "channel")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in limits) or not (
        isinstance(raw["seeds"], int) and raw["seeds"] >= 0
    ):
        raise XaiEvalError(f"{where}: limits must be finite numbers >= 0 and seeds a whole number; {fix}")
    return MapNoise(float(limits[0]), float(limits[1]), float(limits[2]), raw["seeds"])


def _snapshot(arrays: dict[str, Any], name: str, raw: Any, at: str, npz: Path, fix: str) -> Snapshot:
    import numpy as np

    if name not in arrays:
        raise XaiEvalError(f"{npz}: no array {name!r} for {at}; {fix}")
    if arrays[name].dtype != np.float16 or arrays[name].ndim != 2:
        raise XaiEvalError(f"{npz}: array {name!r} is {arrays[name].dtype} {arrays[name].shape}, not a 2-D float16 map; {fix}")
    (scale,) = _numbers([raw["scale"]], f"{at}.scale", fix)
    return Snapshot(arrays[name], scale, _numbers(raw["channel_norms"], f"{at}.channel_norms", fix))


def _seed(raw: Any, where: str, fix: str) -> int:
    if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit())):
        raise XaiEvalError(f"{where}: {raw!r} is not a seed (a whole number >= 0); {fix}")
    return int(raw)


def _load_profile(path: Path, maps: dict[CaseKey, MapEntry], fingerprints: dict[FingerprintKey, Fingerprint]) -> None:
    import numpy as np

    npz = path.with_suffix(".npz")
    fix = f"fix it, or delete {path.name} and {npz.name} and record them again with {UPDATE_FLAG}"
    if path.is_dir():
        raise XaiEvalError(f"{path}: is a folder, not a snapshots file; remove it (snapshot files are PROFILE.json and PROFILE.npz)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise XaiEvalError(f"{path}: cannot read it ({exc.strerror}); make it readable, or {fix}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise XaiEvalError(f"{path}: not valid JSON ({exc}); {fix}") from None
    if not isinstance(data, dict) or data.get("schema_version") not in READABLE_VERSIONS:
        raise XaiEvalError(f"{path}: not a schema_version {SCHEMA_VERSION} snapshots file; {fix}")
    profile = path.stem
    if data.get("profile") != profile or not isinstance(data.get("models"), dict):
        raise XaiEvalError(f"{path}: 'profile' must be {profile!r} (the file name) and 'models' an object; {fix}")
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
                    name, at = f"{model}/{method}/{image}", f"{where}.maps.{method}.{image}"
                    snapshot = _snapshot(arrays, name, raw, at, npz, fix)
                    seeds = raw.get("seeds", {})
                    if not isinstance(seeds, dict):
                        raise XaiEvalError(f"{at}.seeds: must be an object of seed -> map; {fix}")
                    others = {_seed(seed, f"{at}.seeds", fix): _snapshot(arrays, f"{name}@{seed}", other, f"{at}.seeds.{seed}", npz, fix)
                              for seed, other in seeds.items()}
                    maps[CaseKey(profile, model, method, image)] = MapEntry(
                        snapshot, _noise(raw["noise"], f"{at}.noise", fix), _seed(raw.get("seed", 0), f"{at}.seed", fix), others)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise XaiEvalError(f"{where}: malformed entry ({type(exc).__name__}: {exc}); {fix}") from None
