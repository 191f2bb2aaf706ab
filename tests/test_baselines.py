"""Baseline file: judging, validation, updates and atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from xai_eval.gate.baselines import BaselineEntry, BaselineStore
from xai_eval.records.keys import CaseKey
from xai_eval.errors import XaiEvalError

KEY = CaseKey("quick", "m", "IG", "img")


def test_threshold_is_value_plus_atol_plus_rtol() -> None:
    entry = BaselineEntry(2.0, rtol=0.1, atol=0.05)
    assert entry.threshold == pytest.approx(2.25)


@pytest.mark.parametrize(
    ("value", "status"),
    [(2.0, "pass"), (2.25, "pass"), (2.2501, "regressed"), (1.76, "pass"), (1.74, "improved"), (0.0, "improved")],
)
def test_judge(value: float, status: str) -> None:
    store = BaselineStore(Path("b.json"), {KEY: BaselineEntry(2.0, rtol=0.1, atol=0.05)})
    verdict = store.judge(KEY, value)
    assert verdict.status == status
    assert verdict.passed == (status != "regressed")


def test_missing_entry() -> None:
    verdict = BaselineStore(Path("b.json"), {}).judge(KEY, 1.0)
    assert verdict.status == "missing" and not verdict.passed


def test_round_trip_and_missing_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "b.json"
    assert BaselineStore.load(path).entries == {}
    store, n_updated, n_new = BaselineStore(path, {}).updated([(KEY, 1.5, None)])
    assert (n_updated, n_new) == (0, 1)
    store.save()
    assert BaselineStore.load(path).entries == {KEY: BaselineEntry(1.5)}
    assert json.loads(path.read_text())["schema_version"] == 1


def test_update_keeps_tolerances_and_other_entries(tmp_path: Path) -> None:
    other = CaseKey("paper", "m", "LRP", "img")
    store = BaselineStore(tmp_path / "b.json", {KEY: BaselineEntry(1.0, 0.3, 0.2), other: BaselineEntry(4.0)})
    new, n_updated, n_new = store.updated([(KEY, 2.0, None), (CaseKey("quick", "m", "IG", "x"), 3.0, None)])
    assert (n_updated, n_new) == (1, 1)
    assert new.entries[KEY] == BaselineEntry(2.0, 0.3, 0.2)
    assert new.entries[other] == BaselineEntry(4.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"schema_version": 99, "profiles": {}}', "schema_version 99 is not supported"),
        ('{"schema_version": 1}', "'profiles' must be an object"),
        ('{"schema_version": 1, "profiles": {"quick": {"m": {"IG": {"img": {"rtol": 1}}}}}}', "profiles.quick.m.IG.img"),
        ('{"schema_version": 1, "profiles": {"quick": {"m": {"IG": {"img": {"value": "x"}}}}}}', "must be numbers"),
        ('{"schema_version": 1, "profiles": {"quick": {"m": {"IG": {"img": {"value": 1, "rtol": -1}}}}}}', ">= 0"),
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
