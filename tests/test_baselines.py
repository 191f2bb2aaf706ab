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
from xai_eval.records.floors import SENSITIVITY_RTOL

KEY = CaseKey("quick", "m", "IG", "img")


SPREAD = Spread(min=1.9, max=2.1, relative=0.02, k=6, mean=2.0)
SEEDS = {10001: 2.04, 10002: 1.97, 10003: 2.01, 10004: 1.98, 10005: 2.02}
PAIRED = BaselineEntry(2.0, SPREAD, 0, SEEDS)


def _rerun(entry: BaselineEntry, factor: float) -> tuple[list[float], list[float]]:
    recorded = [v for _, v in sorted(entry.paired_values().items())]
    return recorded, [v * factor for v in recorded]


@pytest.mark.parametrize(
    ("value", "meaning"),
    [(2.0, "unchanged"), (2.0 * (1 + 0.95 * SENSITIVITY_RTOL), "unchanged"), (2.0 * (1 - 0.95 * SENSITIVITY_RTOL), "unchanged"),
     (2.0 * (1 + 1.25 * SENSITIVITY_RTOL), "unknown"), (2.3, "unknown"), (float("nan"), "unknown")],
)
def test_a_value_is_compared_at_the_floor_and_a_change_without_paired_evidence_is_unknown(value: float, meaning: str) -> None:
    assert PAIRED.compare(value).meaning == meaning


@pytest.mark.parametrize(("factor", "meaning"), [(1.05, "worse"), (0.95, "better"), (1.0, "noise")])
def test_paired_reruns_on_the_recorded_seeds_say_what_a_change_means(factor: float, meaning: str) -> None:
    assert PAIRED.compare(2.3, paired=_rerun(PAIRED, factor)).meaning == meaning


def test_without_seeds_any_change_is_unknown() -> None:
    entry = BaselineEntry(2.0)
    assert entry.compare(2.001).meaning == "unchanged" and entry.compare(2.01).meaning == "unknown"
    assert entry.paired_values() == {0: 2.0}


def test_round_trip_and_missing_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    assert BaselineStore.load(path).entries == {}
    store, n_updated, n_new = BaselineStore(path, {}).updated([(KEY, BaselineEntry(1.5)), (CaseKey("quick", "m", "IG", "x"), PAIRED)])
    assert (n_updated, n_new) == (0, 2)
    store.save()
    assert BaselineStore.load(path).entries == {KEY: BaselineEntry(1.5), CaseKey("quick", "m", "IG", "x"): PAIRED}
    data = json.loads(path.read_text())
    assert data["schema_version"] == 3
    assert data["profiles"]["quick"]["m"]["IG"]["x"]["seeds"] == {str(k): v for k, v in sorted(SEEDS.items())}


def test_an_undefined_metric_is_recorded_as_undefined_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    BaselineStore(path, {KEY: BaselineEntry(None, undefined="every perturbation changed the prediction")}).save()
    assert json.loads(path.read_text())["profiles"]["quick"]["m"]["IG"]["img"] == {
        "value": None, "undefined": "every perturbation changed the prediction"}
    assert BaselineStore.load(path).entries[KEY] == BaselineEntry(None, undefined="every perturbation changed the prediction")


def test_a_spread_whose_mean_is_0_is_written_and_read_back(tmp_path: Path) -> None:
    """Whatever the recorder writes, the loader reads: a ROAD gap whose seeds average 0 has no relative spread."""
    spread = Spread.of([0.1, -0.1, 0.05, -0.05])
    assert spread.relative is None and spread.loose
    path = tmp_path / "b.json"
    BaselineStore(path, {KEY: BaselineEntry(0.1, spread, 0, {1: -0.1, 2: 0.05, 3: -0.05})}).save()
    assert "Infinity" not in path.read_text()
    assert BaselineStore.load(path).entries[KEY].spread == spread


def test_a_schema_1_file_is_read_and_rewritten_as_schema_3(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    spread = {"min": 1.0, "max": 1.2, "mean": 1.1, "relative": 0.05, "k": 6}
    path.write_text(json.dumps({"schema_version": 1, "profiles": {"quick": {"m": {"IG": {"img": {
        "value": 1.1, "rtol": 0.3, "atol": 0.001, "spread": spread}}}}}}))
    store = BaselineStore.load(path)
    assert store.entries == {KEY: BaselineEntry(1.1, Spread(1.0, 1.2, 0.05, 6, 1.1))}
    store.save()
    assert json.loads(path.read_text())["profiles"]["quick"]["m"]["IG"]["img"] == {"value": 1.1, "spread": spread}


def test_update_keeps_seeds_only_for_the_value_they_were_computed_with(tmp_path: Path) -> None:
    """The seeds beside a value were computed by the code that computed it: accepting the same value (within the
    floor) keeps them; accepting another drops them, so the next change reads unknown until recalibrated."""
    other = CaseKey("paper", "m", "LRP", "img")
    store = BaselineStore(tmp_path / "b.json", {KEY: PAIRED, other: BaselineEntry(4.0)})
    new, n_updated, n_new = store.updated([(KEY, BaselineEntry(2.001)), (CaseKey("quick", "m", "IG", "x"), BaselineEntry(3.0))])
    assert (n_updated, n_new) == (1, 1)
    assert new.entries[KEY] == BaselineEntry(2.001, SPREAD, 0, SEEDS)
    assert new.entries[other] == BaselineEntry(4.0)
    moved = store.updated([(KEY, BaselineEntry(2.3))])[0].entries[KEY]
    assert moved == BaselineEntry(2.3) and moved.compare(2.5).meaning == "unknown"
    rerun = BaselineEntry(2.3, Spread.of([2.3, 2.2]), 0, {10001: 2.2})
    assert store.updated([(KEY, rerun)])[0].entries[KEY] == rerun  # seeds from this run's reruns are kept


def test_recording_the_same_values_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    keys = [CaseKey(p, "m", method, image) for p in ("quick", "paper") for method in ("LRP", "IG") for image in ("b", "a")]
    for name, order in (("one.json", keys), ("two.json", keys[::-1])):
        BaselineStore(tmp_path / name, {}).updated([(k, BaselineEntry(0.5 + i / 7, SPREAD, 0, dict(reversed(SEEDS.items()))))
                                                    for i, k in enumerate(keys) if k in order])[0].save()
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
