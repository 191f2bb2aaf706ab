"""Baseline file: the comparison at the floor, validation, updates and byte-stable atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xai_eval.stores.baselines import BaselineEntry, BaselineStore
from xai_eval.measure.spread import Spread
from xai_eval.records.keys import CaseKey
from xai_eval.errors import XaiEvalError

KEY = CaseKey("quick", "m", "IG", "img")


SPREAD = Spread(min=1.9, max=2.1, relative=0.02, k=6, mean=2.0)


@pytest.mark.parametrize(
    ("value", "meaning"),
    [(2.0, "unchanged"), (2.0019, "unchanged"), (1.9981, "unchanged"), (2.0025, "noise"), (1.95, "noise"),
     (2.3, "worse"), (1.6, "better"), (float("nan"), "unknown")],
)
def test_a_value_is_compared_at_the_floor_and_classified_by_its_spread(value: float, meaning: str) -> None:
    entry = BaselineEntry(2.0, SPREAD)
    assert entry.compare(value).meaning == meaning


def test_without_a_spread_any_change_is_unknown() -> None:
    entry = BaselineEntry(2.0)
    assert entry.compare(2.001).meaning == "unchanged" and entry.compare(2.01).meaning == "unknown"


def test_round_trip_and_missing_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    assert BaselineStore.load(path).entries == {}
    store, n_updated, n_new = BaselineStore(path, {}).updated([(KEY, 1.5, None)])
    assert (n_updated, n_new) == (0, 1)
    store.save()
    assert BaselineStore.load(path).entries == {KEY: BaselineEntry(1.5)}
    assert json.loads(path.read_text())["schema_version"] == 2


def test_a_schema_1_file_is_read_and_rewritten_as_schema_2(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    spread = {"min": 1.0, "max": 1.2, "mean": 1.1, "relative": 0.05, "k": 6}
    path.write_text(json.dumps({"schema_version": 1, "profiles": {"quick": {"m": {"IG": {"img": {
        "value": 1.1, "rtol": 0.3, "atol": 0.001, "spread": spread}}}}}}))
    store = BaselineStore.load(path)
    assert store.entries == {KEY: BaselineEntry(1.1, Spread(1.0, 1.2, 0.05, 6, 1.1))}
    store.save()
    assert json.loads(path.read_text())["profiles"]["quick"]["m"]["IG"]["img"] == {"value": 1.1, "spread": spread}


def test_update_keeps_spreads_and_other_entries(tmp_path: Path) -> None:
    other = CaseKey("paper", "m", "LRP", "img")
    store = BaselineStore(tmp_path / "b.json", {KEY: BaselineEntry(1.0, SPREAD), other: BaselineEntry(4.0)})
    new, n_updated, n_new = store.updated([(KEY, 2.0, None), (CaseKey("quick", "m", "IG", "x"), 3.0, None)])
    assert (n_updated, n_new) == (1, 1)
    assert new.entries[KEY] == BaselineEntry(2.0, SPREAD)
    assert new.entries[other] == BaselineEntry(4.0)
    calibrated = Spread.of([2.0, 2.2, 1.8])
    assert store.updated([(KEY, 2.0, calibrated)])[0].entries[KEY] == BaselineEntry(2.0, calibrated)


def test_update_beyond_the_spread_drops_it_and_the_next_change_is_unknown(tmp_path: Path) -> None:
    """A value accepted where another seed never lands (a changed method) is not described by the old
    spread: keeping it would classify the next change against a different explanation's dice."""
    store = BaselineStore(tmp_path / "b.json", {KEY: BaselineEntry(2.0, SPREAD)})
    accepted = store.updated([(KEY, 3.0, None)])[0].entries[KEY]
    assert accepted == BaselineEntry(3.0, None)
    assert accepted.compare(3.1).meaning == "unknown"
    assert BaselineEntry(3.0, SPREAD).compare(3.1).meaning == "unknown", "a spread that misses its value explains nothing"
    assert BaselineEntry(2.0, SPREAD).compare(2.05).meaning == "noise"


def test_recording_the_same_values_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    keys = [CaseKey(p, "m", method, image) for p in ("quick", "paper") for method in ("LRP", "IG") for image in ("b", "a")]
    for name, order in (("one.json", keys), ("two.json", keys[::-1])):
        BaselineStore(tmp_path / name, {}).updated([(k, 0.5 + i / 7, SPREAD) for i, k in enumerate(keys)
                                                    if k in order])[0].save()
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert list(json.loads((tmp_path / "one.json").read_text())["profiles"]) == ["paper", "quick"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"schema_version": 99, "profiles": {}}', "schema_version 99 is not supported"),
        ('{"schema_version": 2}', "'profiles' must be an object"),
        ('{"schema_version": 2, "profiles": {"quick": {"m": {"IG": {"img": {"spread": null}}}}}}', "profiles.quick.m.IG.img"),
        ('{"schema_version": 2, "profiles": {"quick": {"m": {"IG": {"img": {"value": "x"}}}}}}', "must be a finite number"),
        ('{"schema_version": 2, "profiles": {"quick": {"m": {"IG": {"img": {"value": 1, "rtol": 1}}}}}}', "unknown key 'rtol'"),
        ('{"schema_version": 2, "profiles": {"quick": {"m": {"IG": {"img": {"value": 1, "spread": {"k": 1}}}}}}}',
         "spread: must be an object"),
    ],
)
def test_malformed_files_give_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(XaiEvalError, match=message) as info:
        BaselineStore.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.json"
    BaselineStore(path, {KEY: BaselineEntry(1.0)}).save()
    before = path.read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        BaselineStore(path, {KEY: BaselineEntry(2.0)}).save()
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_saved_file_keeps_a_normal_mode(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    BaselineStore(path, {KEY: BaselineEntry(1.0)}).save()
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    path.chmod(0o640)
    BaselineStore(path, {KEY: BaselineEntry(2.0)}).save()
    assert path.stat().st_mode & 0o777 == 0o640


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
