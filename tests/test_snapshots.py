"""Explanation snapshots and model fingerprints: the measures, the store, and the gate workflow."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from xai_eval.errors import XaiEvalError
from xai_eval.stores.snapshots import SnapshotStore
from xai_eval.measure import fingerprint as fp
from xai_eval.measure.similarity import (
    MapDistance,
    MapNoise,
    Snapshot,
    calibrated_noise,
    distance,
    map_meaning,
    snapshot_of,
)
from xai_eval.records.floors import GRADIENT_RELATIVE_L2, MAP_CHANNEL, MAP_RELATIVE_L2
from xai_eval.records.keys import CaseKey

NOISE = MapNoise(0.3, 0.2, 0.05, 5)


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
    assert distance(a, a) == MapDistance(pytest.approx(1.0), 0.0, 0.0)
    assert distance(Snapshot(a.values, a.scale * 2, a.channel_norms), a).relative_l2 == pytest.approx(1.0, rel=1e-6)
    zero = Snapshot(np.zeros_like(a.values), 0.0, (0.0, 0.0, 0.0))
    assert distance(zero, a).relative_l2 == pytest.approx(1.0) and distance(zero, a).rank_distance == 1.0
    unrelated = distance(snapshot_of(_attribution(1)), a)
    assert abs(unrelated.rank_correlation) < 0.2 and unrelated.relative_l2 > 1.0


def test_float16_storage_and_rounding_noise_stay_far_below_the_floors() -> None:
    attribution = _attribution(0)
    noisy = attribution * (1 + 1e-5 * torch.randn(attribution.shape, generator=torch.Generator().manual_seed(3)))
    d = distance(snapshot_of(noisy), snapshot_of(attribution))
    assert d.relative_l2 < MAP_RELATIVE_L2 / 10 and d.channel < MAP_CHANNEL / 10 and d.rank_distance < 1e-4
    assert map_meaning(d, None) == "unchanged"


@pytest.mark.parametrize("change", ["1% louder", "x 1.5", "blurred", "shifted 4 px", "sign flipped", "zeroed",
                                    "channels swapped"])
def test_the_floor_fails_a_changed_map(change: str) -> None:
    attribution = _attribution(0) * torch.tensor([1.0, 0.7, 0.4]).view(1, 3, 1, 1)
    changed = {
        "1% louder": attribution * 1.01,
        "x 1.5": attribution * 1.5,
        "blurred": torch.nn.functional.avg_pool2d(attribution, 13, stride=1, padding=6, count_include_pad=False),
        "shifted 4 px": torch.roll(attribution, 4, dims=-1),
        "sign flipped": -attribution,
        "zeroed": torch.zeros_like(attribution),
        "channels swapped": attribution[:, [2, 1, 0]],
    }[change]
    d = distance(snapshot_of(changed), snapshot_of(attribution))
    assert map_meaning(d, None) == "unknown" and map_meaning(d, MapNoise(9.0, 9.0, 9.0, 5)) == "noise"
    if change == "channels swapped":
        assert d.relative_l2 == 0.0 and d.channel > 0.1, "the channel sum cannot see it; the channel norms do"


def test_map_meanings() -> None:
    assert map_meaning(MapDistance(1.0, MAP_RELATIVE_L2, MAP_CHANNEL), NOISE) == "unchanged"
    assert map_meaning(MapDistance(0.9, 0.1, 0.0), NOISE) == "noise"
    assert map_meaning(MapDistance(0.7, 0.1, 0.0), NOISE) == "beyond", "rank decorrelation beyond the noise"
    assert map_meaning(MapDistance(0.9, 0.4, 0.0), NOISE) == "beyond", "relative L2 beyond the noise"
    assert map_meaning(MapDistance(0.9, 0.1, 0.06), NOISE) == "beyond", "channel norms beyond the noise"
    assert map_meaning(MapDistance(0.9, 0.1, 0.0), None) == "unknown"


def test_calibrated_noise_covers_the_seeds_and_keeps_the_floor() -> None:
    assert calibrated_noise([MapDistance(1.0, 0.0, 0.0)] * 5) == MapNoise(MAP_RELATIVE_L2, 0.01, MAP_CHANNEL, 5)
    seen = [MapDistance(1 - r, e, c) for r, e, c in [(0.05, 0.2, 0.01), (0.07, 0.25, 0.02), (0.04, 0.22, 0.01),
                                                   (0.06, 0.3, 0.03), (0.05, 0.21, 0.02)]]
    noise = calibrated_noise(seen)
    assert noise.relative_l2 >= 0.3 and noise.rank_distance >= 0.07 and noise.channel >= 0.03
    assert all(noise.allows(d) for d in seen) and noise.informative
    assert not noise.allows(MapDistance(0.0, 1.0, 0.0))  # an unrelated map


def test_noise_that_passes_zero_and_unrelated_maps_is_not_informative() -> None:
    wide = calibrated_noise([MapDistance(r, e) for r, e in [(0.1, 2.0), (-0.2, 3.0), (0.0, 1.5), (0.3, 2.5), (-0.1, 4.0)]])
    assert not wide.informative
    assert MapNoise(0.5, 1.5, 0.1, 5).informative  # rel L2 still calls a zero map beyond noise


def test_fingerprint_changes() -> None:
    logits = torch.tensor([[1.0, 9.0, 3.0, 8.5, -2.0, 0.5, 7.0]])
    stored = fp.fingerprint_of(logits, target=1)
    assert stored.top == (1, 3, 6, 2, 0) and stored.target_logit == 9.0
    assert fp.changes(logits * (1 + 1e-5), 1, stored) == []
    assert any("target logit" in c for c in fp.changes(logits * 1.001, 1, stored))
    assert fp.changes(logits, 2, stored)[0] == "target class 1 -> 2"
    near_tie = logits.clone()
    near_tie[0, 3] = 8.99995
    tied = fp.fingerprint_of(near_tie, target=1)
    near_tie[0, 3] = 9.00003  # overtakes class 1 by moving less than the floor: not a change
    assert fp.changes(near_tie, 1, tied) == []
    near_tie[0, 3] = 9.5
    assert fp.changes(near_tie, 1, tied) == ["logit of class 3 8.99995 -> 9.5"]
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


@pytest.mark.parametrize("change", ["x 1.01", "one channel x 0.99", "shifted", "NaN"])
def test_the_backward_fingerprint_sees_a_gradient_change_the_logits_cannot(change: str) -> None:
    gradient = _attribution(4)
    logits = torch.tensor([[1.0, 9.0, 3.0]])
    stored = fp.fingerprint_of(logits, 1, gradient)
    assert stored.gradient is not None and len(stored.gradient.pooled) == fp.GRADIENT_SIZE ** 2
    assert fp.Fingerprint.from_json(json.loads(json.dumps(stored.to_json()))) == stored
    same = fp.gradient_print(gradient * (1 + 1e-6 * torch.randn(gradient.shape, generator=torch.Generator().manual_seed(1))))
    assert fp.changes(logits, 1, stored, same) == []
    moved = {
        "x 1.01": gradient * 1.01,
        "one channel x 0.99": gradient * torch.tensor([1.0, 0.99, 1.0]).view(1, 3, 1, 1),
        "shifted": torch.roll(gradient, 8, dims=-2),
        "NaN": gradient * float("nan"),
    }[change]
    found = fp.changes(logits, 1, stored, fp.gradient_print(moved))
    assert len(found) == 1 and found[0].startswith("input gradient of the target logit moved by")
    assert f"floor {GRADIENT_RELATIVE_L2:g}" in found[0]


# --- the store ----------------------------------------------------------------------------------

def _store(tmp_path):
    key = CaseKey("quick", "m", "IG", "a")
    store, n_updated, n_new = SnapshotStore.load(tmp_path / "snaps").updated(
        [(key, snapshot_of(_attribution()), NOISE)],
        [(key, fp.fingerprint_of(torch.arange(10.0), 3, _attribution(2)))],
    )
    assert (n_updated, n_new) == (0, 2)
    store.save(["quick"])
    return key, store


def test_store_round_trip(tmp_path) -> None:
    key, store = _store(tmp_path)
    loaded = SnapshotStore.load(tmp_path / "snaps")
    assert loaded.maps[key].noise == NOISE
    assert np.array_equal(loaded.maps[key].snapshot.values, store.maps[key].snapshot.values)
    assert loaded.maps[key].snapshot.channel_norms == store.maps[key].snapshot.channel_norms
    assert loaded.fingerprints[("quick", "m", "a")] == store.fingerprints[("quick", "m", "a")]
    again, n_updated, n_new = loaded.updated([(key, loaded.maps[key].snapshot, None)], [])
    assert (n_updated, n_new) == (0, 0) and again.maps[key].noise == NOISE
    assert sorted(p.name for p in (tmp_path / "snaps").iterdir()) == ["quick.json", "quick.npz"]


def test_a_map_accepted_beyond_the_floor_loses_its_seeds_and_noise(tmp_path) -> None:
    """The seeds and noise recorded beside a map were computed by the code that computed it: accepting another
    map (beyond the numeric floor) keeps none of them; within the floor, they are kept."""
    from xai_eval.stores.snapshots import MapEntry

    key, _ = _store(tmp_path)
    seeded = MapEntry(snapshot_of(_attribution()), NOISE, 0, {10001: snapshot_of(_attribution() * 0.9)})
    store = SnapshotStore.load(tmp_path / "snaps").updated([(key, seeded)], [])[0]
    same = store.updated([(key, snapshot_of(_attribution() * 1.001), None)], [])[0].maps[key]  # within the floor
    assert same.noise == NOISE and set(same.seeds) == {10001}
    near = snapshot_of(_attribution() * 1.02)  # relative L2 0.02: beyond the floor, within NOISE
    accepted = store.updated([(key, near, None)], [])[0].maps[key]
    assert accepted.noise is None and not accepted.seeds
    assert map_meaning(distance(snapshot_of(_attribution() * 1.2), accepted.snapshot), accepted.noise) == "unknown"


def test_a_map_is_stored_with_its_seeds_and_read_back(tmp_path) -> None:
    from xai_eval.stores.snapshots import MapEntry

    key, _ = _store(tmp_path)
    others = {10001: snapshot_of(_attribution() * 0.9), 10002: snapshot_of(_attribution(2))}
    store = SnapshotStore.load(tmp_path / "snaps").updated([(key, MapEntry(snapshot_of(_attribution()), NOISE, 0, others))], [])[0]
    store.save(["quick"])
    loaded = SnapshotStore.load(tmp_path / "snaps").maps[key]
    assert sorted(loaded.paired_snapshots()) == [0, 10001, 10002]
    assert all(np.array_equal(loaded.seeds[s].values, others[s].values) and loaded.seeds[s].scale == others[s].scale
               for s in others)


def test_saving_the_same_store_twice_gives_the_same_bytes(tmp_path) -> None:
    import time

    _, store = _store(tmp_path)
    first = {p.name: p.read_bytes() for p in (tmp_path / "snaps").iterdir()}
    time.sleep(2.1)  # a zip member's time stamp has 2-second resolution
    store.save(["quick"])
    assert {p.name: p.read_bytes() for p in (tmp_path / "snaps").iterdir()} == first


def test_resaving_the_committed_snapshots_gives_their_bytes(tmp_path) -> None:
    """What the tool writes here is what is committed: an unchanged re-recording leaves no diff."""
    import shutil
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "fixtures" / "baselines" / "snapshots"
    shutil.copytree(committed, tmp_path / "snaps")
    store = SnapshotStore.load(tmp_path / "snaps")
    profiles = sorted({key.profile for key in store.maps})
    assert profiles, "no committed snapshots"
    store.save(profiles)
    for path in sorted(committed.iterdir()):
        assert (tmp_path / "snaps" / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.update(schema_version=7), "not a schema_version 3 snapshots file"),
        (lambda d: d.update(profile="paper"), "'profile' must be 'quick'"),
        (lambda d: d["models"]["m"]["maps"]["IG"]["a"].pop("scale"), "models.m: malformed entry (KeyError"),
        (lambda d: d["models"]["m"]["maps"]["IG"]["a"]["noise"].update(channel=-1), "must be finite numbers >= 0"),
        (lambda d: d["models"]["m"]["maps"]["IG"]["a"].update(channel_norms="x"), "channel_norms: must be a list"),
        (lambda d: d["models"]["m"]["fingerprints"]["a"]["gradient"].update(pooled=[float("nan")]), "malformed entry"),
        (lambda d: d["models"]["m"]["maps"].update(LRP={"a": d["models"]["m"]["maps"]["IG"]["a"]}), "no array 'm/LRP/a'"),
    ],
)
def test_store_rejects_a_damaged_file_in_one_line(tmp_path, damage, message) -> None:
    _store(tmp_path)
    path = tmp_path / "snaps" / "quick.json"
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    with pytest.raises(XaiEvalError, match="delete quick.json and quick.npz and record them again with --xai-update-baselines") as info:
        SnapshotStore.load(tmp_path / "snaps")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_store_path_that_is_a_file_is_one_line(tmp_path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(XaiEvalError, match="is a file, not a snapshots folder"):
        SnapshotStore.load(tmp_path / "f")


def test_a_snapshots_file_that_is_a_folder_or_unreadable_is_one_line(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    (tmp_path / "snaps" / "paper.json").mkdir(parents=True)
    with pytest.raises(XaiEvalError, match=r"paper.json: is a folder, not a snapshots file; remove it"):
        SnapshotStore.load(tmp_path / "snaps")
    (tmp_path / "snaps" / "paper.json").rmdir()
    _store(tmp_path)
    real = Path.read_text

    def unreadable(path, *args, **kwargs):
        if path.name == "quick.json":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", unreadable)
    with pytest.raises(XaiEvalError, match=r"quick.json: cannot read it \(Permission denied\); make it readable") as info:
        SnapshotStore.load(tmp_path / "snaps")
    assert "\n" not in str(info.value)


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
    missing.stdout.fnmatch_lines(["*has no snapshots for profile 'quick'; create them (and calibrate their noise) with: "
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
        "*explanation of tinynet_drift.build-LRP-b changed: relative L2*; no seeds are recorded for it to rerun: record "
        "them with --xai-calibrate 5: changed, with no paired evidence of what it means*",
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
    assert "neither an xai-eval results file (no 'cases' list) nor a pytest-benchmark JSON; give the files written by: pytest suites/ --xai-results" in err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_changed_map_is_judged_by_paired_reruns_on_its_recorded_seeds(snapshot_project: pytest.Pytester) -> None:
    snapshot_project.runpytest("test_snapshot.py", "--xai-calibrate", "5", "--xai-method", "GradientSHAP",
                               "--xai-method", "IG").assert_outcomes(passed=8)
    path = snapshot_project.path / "snapshots" / "quick.json"
    data = json.loads(path.read_text())
    entry = data["models"]["tinynet.build"]["maps"]["IG"]["a"]
    assert sorted(entry["seeds"]) == ["10001", "10002", "10003", "10004", "10005"] and entry["seed"] == 0
    for recorded in (entry, *entry["seeds"].values()):
        recorded["scale"] *= 1.1  # on every seed, the recorded map was 10 % stronger: the expected map moved
    path.write_text(json.dumps(data))
    methods = ("--xai-method", "GradientSHAP", "--xai-method", "IG")
    unpaired = snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-fail-on", "worse-beyond-noise")
    unpaired.assert_outcomes(passed=7, failed=1)  # no paired evidence: unknown, which fails under every policy
    unpaired.stdout.fnmatch_lines(["*explanation of tinynet.build-IG-a changed: relative L2 0.0909*rerun it on its 6 "
                                   "recorded seeds with --xai-paired-reruns*changed, with no paired evidence*"])
    paired = snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-paired-reruns", "--xai-fail-on",
                                        "worse-beyond-noise")
    paired.assert_outcomes(passed=7, failed=1)
    paired.stdout.fnmatch_lines(["*explanation of tinynet.build-IG-a changed: relative L2 0.0909*: magnitude x0.909*over 6 "
                                 "paired seeds: changed: the expected value moved (paired reruns)*"])
    paired.stdout.fnmatch_lines(["*paired reruns: 1 number(s) of 1 case(s) rerun on their recorded seeds in*"])


def test_a_reseeded_map_is_only_the_draws_by_its_paired_reruns(snapshot_project: pytest.Pytester) -> None:
    """Another --xai-seed moves GradientSHAP's maps; rerun on the recorded seeds they are the recorded maps: no
    evidence the expected map moved. The default policy still fails the change (CI runs one seed); the lenient
    one passes it, and only with paired evidence."""
    methods = ("--xai-method", "GradientSHAP")
    snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-calibrate", "5").assert_outcomes(passed=4)
    default = snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-seed", "1", "--xai-paired-reruns")
    default.assert_outcomes(passed=2, failed=2)
    default.stdout.fnmatch_lines(["*explanation of tinynet.build-GradientSHAP-a changed*over 6 paired seeds: no evidence "
                                  "the expected value moved*CI runs one seed*--xai-fail-on worse-beyond-noise*"])
    lenient = snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-seed", "1", "--xai-paired-reruns",
                                         "--xai-fail-on", "worse-beyond-noise")
    lenient.assert_outcomes(passed=4)
    lenient.stdout.fnmatch_lines(["*2 of 2 case(s) changed beyond the numeric floor: 2 no evidence the expected value moved*"])
    without = snapshot_project.runpytest("test_snapshot.py", *methods, "--xai-seed", "1", "--xai-fail-on", "worse-beyond-noise")
    without.assert_outcomes(passed=2, failed=2)


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


def test_two_fresh_recordings_are_byte_identical(snapshot_project: pytest.Pytester) -> None:
    """Recording the same cases twice, each time from nothing, writes the same bytes: the committed files
    are exactly what the tool writes (sorted JSON, a zip without time stamps)."""
    import shutil
    import time

    files = ("baselines.json", "snapshots/quick.json", "snapshots/quick.npz")
    recorded = []
    for attempt in range(2):
        for name in files:
            (snapshot_project.path / name).unlink(missing_ok=True)
        if attempt == 1:  # the second recording runs the tests in the reverse order
            snapshot_project.makeconftest("def pytest_collection_modifyitems(items):\n    items.reverse()\n")
            time.sleep(2.1)  # a zip member's time stamp has 2-second resolution
        snapshot_project.runpytest("--xai-calibrate", "5", "--xai-method", "IG").assert_outcomes(passed=6)
        recorded.append({name: (snapshot_project.path / name).read_bytes() for name in files})
    assert recorded[0] == recorded[1]
    snapshot_project.runpytest("--xai-method", "IG").assert_outcomes(passed=6)
    shutil.rmtree(snapshot_project.path / "snapshots")
