"""Explanation snapshots and model fingerprints: the measures, the store, and the gate workflow."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from xai_eval.errors import XaiEvalError
from xai_eval.gate.snapshots import SnapshotStore
from xai_eval.measure import fingerprint as fp
from xai_eval.measure.similarity import (
    REL_L2_FLOOR,
    MapDistance,
    MapTolerance,
    Snapshot,
    calibrated_tolerance,
    distance,
    snapshot_of,
)
from xai_eval.records.keys import CaseKey


def _attribution(seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.randn(1, 3, 232, 232, generator=g), 9, stride=1)
    return smooth * scale


# --- the measures --------------------------------------------------------------------------------

def test_snapshot_is_a_small_float16_map_that_keeps_tiny_values() -> None:
    tiny = snapshot_of(_attribution(scale=1e-9))
    assert tiny.values.dtype == np.float16 and tiny.values.shape == (56, 56)
    assert np.abs(tiny.values).max() == 1.0 and tiny.scale == pytest.approx(np.abs(tiny.restored()).max())
    same = snapshot_of(_attribution(scale=1.0))
    assert distance(tiny, Snapshot(same.values, same.scale * 1e-9)).relative_l2 < 1e-6  # no float16 underflow


def test_distances_of_identical_scaled_zero_and_unrelated_maps() -> None:
    a = snapshot_of(_attribution(0))
    assert distance(a, a) == MapDistance(pytest.approx(1.0), 0.0)
    assert distance(Snapshot(a.values, a.scale * 2), a).relative_l2 == pytest.approx(1.0, rel=1e-6)
    zero = Snapshot(np.zeros_like(a.values), 0.0)
    assert distance(zero, a).relative_l2 == pytest.approx(1.0) and distance(zero, a).rank_distance == 1.0
    unrelated = distance(snapshot_of(_attribution(1)), a)
    assert abs(unrelated.rank_correlation) < 0.2 and unrelated.relative_l2 > 1.0


def test_float16_storage_and_rounding_noise_stay_far_below_the_floors() -> None:
    attribution = _attribution(0)
    noisy = attribution * (1 + 1e-5 * torch.randn(attribution.shape, generator=torch.Generator().manual_seed(3)))
    d = distance(snapshot_of(noisy), snapshot_of(attribution))
    assert d.relative_l2 < REL_L2_FLOOR / 20 and d.rank_distance < 1e-4
    assert MapTolerance().allows(d)


@pytest.mark.parametrize("change", ["5% louder", "shifted 4 px", "sign flipped", "zeroed"])
def test_floor_tolerance_fails_a_changed_map(change: str) -> None:
    attribution = _attribution(0)
    changed = {
        "5% louder": attribution * 1.05,
        "shifted 4 px": torch.roll(attribution, 4, dims=-1),
        "sign flipped": -attribution,
        "zeroed": torch.zeros_like(attribution),
    }[change]
    assert not MapTolerance().allows(distance(snapshot_of(changed), snapshot_of(attribution)))


def test_calibrated_tolerance_covers_the_seeds_and_keeps_the_floor() -> None:
    assert calibrated_tolerance([MapDistance(1.0, 0.0)] * 5) == MapTolerance(seeds=5)
    seen = [MapDistance(1 - r, e) for r, e in [(0.05, 0.2), (0.07, 0.25), (0.04, 0.22), (0.06, 0.3), (0.05, 0.21)]]
    tolerance = calibrated_tolerance(seen)
    assert tolerance.max_relative_l2 >= 0.3 and tolerance.max_rank_distance >= 0.07
    assert all(tolerance.allows(d) for d in seen) and tolerance.informative
    assert not tolerance.allows(MapDistance(0.0, 1.0))  # an unrelated map


def test_a_tolerance_that_passes_zero_and_unrelated_maps_is_not_informative() -> None:
    wide = calibrated_tolerance([MapDistance(r, e) for r, e in [(0.1, 2.0), (-0.2, 3.0), (0.0, 1.5), (0.3, 2.5), (-0.1, 4.0)]])
    assert not wide.informative
    assert MapTolerance(max_relative_l2=0.5, max_rank_distance=1.5).informative  # rel L2 still fails a zero map


def test_fingerprint_changes() -> None:
    logits = torch.tensor([[1.0, 9.0, 3.0, 8.5, -2.0, 0.5, 7.0]])
    stored = fp.fingerprint_of(logits, target=1)
    assert stored.top == (1, 3, 6, 2, 0) and stored.target_logit == 9.0
    assert fp.changes(logits * (1 + 1e-5), 1, stored) == []
    assert any("target logit" in c for c in fp.changes(logits * 1.01, 1, stored))
    assert fp.changes(logits, 2, stored)[0] == "target class 1 -> 2"
    near_tie = logits.clone()
    near_tie[0, 3] = 8.9995
    tied = fp.fingerprint_of(near_tie, target=1)
    near_tie[0, 3] = 9.0003  # overtakes class 1 by moving less than the tolerance: not a change
    assert fp.changes(near_tie, 1, tied) == []
    near_tie[0, 3] = 9.5
    assert fp.changes(near_tie, 1, tied) == ["logit of class 3 8.9995 -> 9.5"]
    entering = logits.clone()
    entering[0, 5] = 8.0  # a new class in the top 5; the stored ones did not move
    assert fp.changes(entering, 1, stored) == []
    entering[0, 0] = 5.0
    assert fp.changes(entering, 1, stored) == ["logit of class 0 1 -> 5"]
    nan = logits.clone()
    nan[0, 1] = float("nan")  # a model that outputs NaN has changed
    assert fp.changes(nan, 1, stored) == ["target logit 9 -> nan"]
    with pytest.raises(ValueError, match="not finite"):
        fp.Fingerprint.from_json(stored.to_json() | {"target_logit": float("nan")})


# --- the store ----------------------------------------------------------------------------------

def _store(tmp_path):
    key = CaseKey("quick", "m", "IG", "a")
    store, n_updated, n_new = SnapshotStore.load(tmp_path / "snaps").updated(
        [(key, snapshot_of(_attribution()), MapTolerance(0.1, 0.05, 5))],
        [(key, fp.fingerprint_of(torch.arange(10.0), 3))],
    )
    assert (n_updated, n_new) == (0, 2)
    store.save(["quick"])
    return key, store


def test_store_round_trip(tmp_path) -> None:
    key, store = _store(tmp_path)
    loaded = SnapshotStore.load(tmp_path / "snaps")
    assert loaded.maps[key].tolerance == MapTolerance(0.1, 0.05, 5)
    assert np.array_equal(loaded.maps[key].snapshot.values, store.maps[key].snapshot.values)
    assert loaded.fingerprints[("quick", "m", "a")] == store.fingerprints[("quick", "m", "a")]
    again, n_updated, n_new = loaded.updated([(key, loaded.maps[key].snapshot, None)], [])
    assert (n_updated, n_new) == (0, 0) and again.maps[key].tolerance == MapTolerance(0.1, 0.05, 5)
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == ["quick.json", "quick.npz"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.update(schema_version=7), "not a schema_version 1 snapshots file"),
        (lambda d: d.update(profile="paper"), "'profile' must be 'quick'"),
        (lambda d: d["models"]["m"]["maps"]["IG"]["a"].pop("scale"), "models.m: malformed entry (KeyError"),
        (lambda d: d["models"]["m"]["maps"]["IG"]["a"].update(max_relative_l2=-1), "must be finite numbers >= 0"),
        (lambda d: d["models"]["m"]["maps"].update(LRP={"a": d["models"]["m"]["maps"]["IG"]["a"]}), "no array 'm/LRP/a'"),
    ],
)
def test_store_rejects_a_damaged_file_in_one_line(tmp_path, damage, message) -> None:
    _store(tmp_path)
    path = tmp_path / "snaps" / "quick.json"
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    with pytest.raises(XaiEvalError, match="record them again with --xai-update-baselines") as info:
        SnapshotStore.load(tmp_path / "snaps")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_store_path_that_is_a_file_is_one_line(tmp_path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(XaiEvalError, match="is a file, not a snapshots folder"):
        SnapshotStore.load(tmp_path / "f")


# --- the gate workflow (pytester, tiny model) -------------------------------------------------------

SNAPSHOT_SUITE = """
def test_fingerprint(xai_case, xai_snapshots):
    xai_snapshots.check_fingerprint(xai_case)


def test_snapshot(xai_case, xai_snapshots):
    xai_snapshots.check_snapshot(xai_case)
"""


@pytest.fixture
def snapshot_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    gate_project.makepyfile(test_snapshot=SNAPSHOT_SUITE)
    return gate_project


def test_missing_snapshots_fail_with_the_command_then_update_then_pass(snapshot_project: pytest.Pytester) -> None:
    missing = snapshot_project.runpytest("test_snapshot.py")
    missing.assert_outcomes(failed=8)
    missing.stdout.fnmatch_lines(["*has no snapshots for profile 'quick'; create them (and calibrate their limits) with: "
                                  "pytest suites/test_snapshot.py --xai-profile quick --xai-calibrate 5*"])
    updated = snapshot_project.runpytest("test_snapshot.py", "--xai-update-baselines")
    updated.assert_outcomes(passed=8)
    updated.stdout.fnmatch_lines(["*snapshots written to*snapshots: 0 updated, 6 new*"])  # 4 maps + 2 fingerprints
    assert sorted(p.name for p in (snapshot_project.path / "snapshots").iterdir()) == ["quick.json", "quick.npz"]
    snapshot_project.runpytest("test_snapshot.py").assert_outcomes(passed=8)
    snapshot_project.runpytest("test_snapshot.py", "-p", "xdist", "-n", "2").assert_outcomes(passed=8)
    import shutil

    shutil.rmtree(snapshot_project.path / "snapshots")  # recorded again under xdist: workers report to the controller
    parallel = snapshot_project.runpytest("test_snapshot.py", "-p", "xdist", "-n", "2", "--xai-update-baselines")
    parallel.assert_outcomes(passed=8)
    parallel.stdout.fnmatch_lines(["*snapshots written to*snapshots: 0 updated, 6 new*"])
    snapshot_project.runpytest("test_snapshot.py").assert_outcomes(passed=8)


def test_changed_model_fails_fingerprint_and_snapshot_in_every_case_naming_the_witness(snapshot_project: pytest.Pytester) -> None:
    snapshot_project.runpytest("--xai-update-baselines").assert_outcomes(passed=12)
    snapshot_project.makepyfile(tinynet_drift="""
        import torch
        import tinynet

        def build(image_size=16):
            bundle = tinynet.build(image_size)
            with torch.no_grad():
                for p in bundle.model.parameters():
                    p.mul_(1 + 0.03 * torch.randn(p.shape, generator=torch.Generator().manual_seed(5)))
            return bundle
    """)
    data = json.loads((snapshot_project.path / "snapshots" / "quick.json").read_text())
    data["models"]["tinynet_drift.build"] = data["models"]["tinynet.build"]  # the drifted copy must match the original
    (snapshot_project.path / "snapshots" / "quick.json").write_text(json.dumps(data))
    import io
    arrays = dict(np.load(snapshot_project.path / "snapshots" / "quick.npz"))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{k.replace("tinynet.build", "tinynet_drift.build"): v for k, v in arrays.items()})
    (snapshot_project.path / "snapshots" / "quick.npz").write_bytes(buffer.getvalue())
    result = snapshot_project.runpytest("test_snapshot.py", "--xai-model", "tinynet_drift:build", "--xai-results", "out.json")
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines([
        "*model fingerprint of tinynet_drift.build-IG-a changed: target logit*",
        "*explanation of tinynet_drift.build-LRP-b moved from its snapshot: relative L2*",
        "*xai-eval failing cases, by the check that caught them*",
        "quick/tinynet_drift.build/IG/a: fingerprint, snapshot",
        "*to accept the new values run: pytest --xai-model tinynet_drift:build --xai-results out.json --xai-update-baselines*",
    ])


    from xai_eval.report.cli import main

    out = snapshot_project.path / "figures"
    assert main(["snapshots", str(snapshot_project.path / "out.json"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        f"snapshot-tinynet_drift.build-{m}-{i}.png" for m in ("IG", "LRP") for i in ("a", "b")
    ]
    assert all(p.stat().st_size > 5000 for p in out.iterdir())


def test_snapshots_command_rejects_a_file_that_is_not_a_results_file(tmp_path, capsys) -> None:
    from xai_eval.report.cli import main

    (tmp_path / "bench.json").write_text(json.dumps({"benchmarks": []}))
    assert main(["snapshots", str(tmp_path / "bench.json"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not an xai-eval results file (no 'cases' list); re-create it with: pytest suites/ --xai-results" in err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_uninformative_snapshot_is_inconclusive_not_pass(snapshot_project: pytest.Pytester) -> None:
    snapshot_project.runpytest("test_snapshot.py", "--xai-update-baselines").assert_outcomes(passed=8)
    path = snapshot_project.path / "snapshots" / "quick.json"
    data = json.loads(path.read_text())
    data["models"]["tinynet.build"]["maps"]["IG"]["a"].update(max_relative_l2=5.0, max_rank_distance=1.5)
    path.write_text(json.dumps(data))
    result = snapshot_project.runpytest("test_snapshot.py", "-rs")
    result.assert_outcomes(passed=7, skipped=1)
    result.stdout.fnmatch_lines(["*inconclusive: tinynet.build-IG-a: under other seeds its map moves as far as*"])


@pytest.mark.parametrize(("damage", "message"), [
    ("truncated", "cannot read the maps (BadZipFile)"),
    ("float32", "is float32 (56, 56), not a 2-D float16 map"),
])
def test_store_rejects_a_damaged_npz_in_one_line(tmp_path, damage, message) -> None:
    key, store = _store(tmp_path)
    npz = tmp_path / "snaps" / "quick.npz"
    if damage == "truncated":
        npz.write_bytes(npz.read_bytes()[:40])
    else:
        np.savez(npz, **{"m/IG/a": store.maps[key].snapshot.values.astype(np.float32)})
    with pytest.raises(XaiEvalError, match="record them again with --xai-update-baselines") as info:
        SnapshotStore.load(tmp_path / "snaps")
    assert message in str(info.value) and "\n" not in str(info.value)
