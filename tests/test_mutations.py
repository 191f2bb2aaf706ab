"""The gate as a detector: regressions injected into a real ``pytest suites/`` run must fail it in every
affected case, by a verdict that names the right check, and benign changes must pass every case.

Each test runs the shipped suites in a subprocess on efficientnet_lite0 and the fixture photos (quick
profile), with the change injected through a public extension point (``tests/mutants.py``: a registered
method or metric, a model factory wrapping the default one in its place, a manifest, an option), gated
against a copy of the committed baselines and snapshots, whose calibration seeds the paired reruns
(``--xai-paired-reruns``, on in every run) repeat: unmutated, the wrapped model *is* efficientnet_lite0.

Method-level changes run the sensitivity and snapshot suites on the methods they change (IG's and
Occlusion's rows the snapshot suite alone, to save their 11 explanations a photo; Guided Backprop's
randomisation is a shipped known failure, which is not strict, so its row is caught by the snapshot and
max sensitivity, not by the check that stops failing); each affected
(method, photo) case must fail, the snapshot must name the change, and the model's fingerprint must not
move, and the check that catches it must call it worse or changed from the paired reruns; method-level rows
run on coffee (paired reruns cost K + 1 computations of each changed number). Model-level changes run the
snapshot suite on the three photos and are counted once per photo: the fingerprint (or, for a model left
in training mode, the one-line refusal at setup) must fail on every photo. Benign changes run the two
suites that compare with recorded values on every case and must pass all of them; draw-only changes (a
reseed, another random stream) must fail exactly the cases whose numbers they move, each called "no
evidence the expected value moved" from the paired reruns. The unmutated gate itself (seed 0, every suite)
is CI's own run, ``pytest suites/ --xai-strict``. Each test prints its row of the detection table (run with
``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = MODEL_ID = "efficientnet_lite0"
"""Gated under the built-in's id: ``tests.mutants`` puts its wrapper in the registry's place."""
PHOTOS = ("cat", "coffee", "hopper")
PAIRED_PHOTO = "coffee"
"""The photo of the method-level and draw-only rows: paired reruns cost K + 1 computations of every changed
number, so those rows run on one photo."""
METHODS = ("IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM")
SENSITIVITY_SNAPSHOT = ("suites/test_sensitivity.py", "suites/test_snapshot.py")
SNAPSHOT_SUITE = ("suites/test_snapshot.py",)
METRICS_SUITE = "suites/test_metrics.py"
METRIC_FILES = ("avg_sensitivity", "infidelity", "ris", "ros", "road")
"""The quick profile's other metrics: each a baselines file beside max sensitivity's, 5 tests a case."""

pytestmark = pytest.mark.mutation
Case = tuple[str, str]
"""(method, photo)."""


@dataclass(frozen=True)
class GateRun:
    returncode: int
    failed: dict[Case, list[str]]
    """Case -> the checks whose tests failed (``setup`` for a case that errored before its check ran)."""
    messages: dict[Case, list[str]]
    """Case -> the first line of each failure or error (to tell a gate verdict from a crash)."""
    ran: dict[Case, int]
    """Case -> how many of its tests ran (passed, failed, inconclusive or expected to fail)."""
    skipped: dict[Case, list[str]]
    """Case -> the reasons of its tests that did not run (strict is off here)."""
    changes: dict[Case, str] = field(default_factory=dict)
    """Case -> the summary's line of what changed and what it means (cases that changed beyond the floor)."""
    summary: dict[Case, str] = field(default_factory=dict)
    """Case -> the summary's 'caught by' line."""
    output: str = ""


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the committed baselines and snapshots (calibrated: every seed recorded), and the manifests."""
    import shutil

    root = tmp_path_factory.mktemp("mutations")
    for path in (REPO / "fixtures/baselines").glob("*.json"):
        shutil.copy(path, root / ("baselines.json" if path.name == "max_sensitivity.json" else path.name))
    shutil.copytree(REPO / "fixtures/baselines/snapshots", root / "snapshots")
    manifest = (REPO / "fixtures/images/manifest.toml").read_text()
    absolute = re.sub(r'file = "([^"]+)"', lambda m: f'file = "{(REPO / "fixtures/images" / m.group(1)).as_posix()}"', manifest)
    relabelled = re.sub(r"label = (\d+)", lambda m: f"label = {int(m.group(1)) + 1}", absolute)
    for name, text in (("images", absolute), ("images_label_plus_1", relabelled)):
        (root / name).mkdir()
        (root / name / "manifest.toml").write_text("# NOT a measurement: a test's copy of the fixture manifest\n" + text)
    return root


def run_gate(project: Path, mutation: str, suites: tuple[str, ...], methods: tuple[str, ...] = METHODS,
             *options: str, images: str = "images") -> GateRun:
    """``pytest suites/...`` in a subprocess with ``XAI_MUTATION=mutation``; its outcomes per case."""
    junit = project / f"junit-{mutation or 'none'}-{len(os.listdir(project))}.xml"
    command = [
        sys.executable, "-m", "pytest", *suites, "-p", "tests.mutants", "-p", "no:cacheprovider", "-q",
        "--xai-model", MODEL, "--xai-images", str(project / images), "--xai-baselines", str(project / "baselines.json"),
        "--xai-snapshots", str(project / "snapshots"), f"--junitxml={junit}", "--xai-paired-reruns",
        *(arg for method in methods for arg in ("--xai-method", method)), *options,
    ]
    env = os.environ | {"XAI_MUTATION": mutation, "PYTHONPATH": str(REPO), "COLUMNS": "400"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    output = done.stdout + done.stderr
    run = GateRun(done.returncode, {}, {}, {}, {}, output=output)
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if name.endswith("[NOTSET]"):
            continue  # a suite whose methods marker selected none of this run's methods
        photos = "|".join(PHOTOS)
        match = re.fullmatch(rf"test_(\w+)\[{re.escape(MODEL_ID)}-(.+)-({photos})(?:-(\w+))?\](?:@xai-case=.*)?", name)  # xdist: @group
        assert match, f"unexpected test {name}\n{output[-3000:]}"
        check, method, photo, metric = match.groups()
        check = f"{check} {metric}" if metric else check
        key = (method, photo)
        children = {child.tag: child for child in case}
        skip = children.get("skipped")
        is_inconclusive = skip is not None and re.search(r"(^|: )inconclusive: ", skip.get("message") or "") is not None
        if skip is not None and skip.get("type") != "pytest.xfail" and not is_inconclusive:
            run.skipped.setdefault(key, []).append(f"{check}: {skip.get('message')}")
            continue  # a case that did not run; never counted as a detection or a pass
        run.ran[key] = run.ran.get(key, 0) + 1
        for tag in ("failure", "error"):
            if tag in children:
                run.failed.setdefault(key, []).append("setup" if tag == "error" else check)
                run.messages.setdefault(key, []).append((children[tag].get("message") or "").splitlines()[0][:400])
    pattern = rf"^(\s*)(?:quick|paper)/{re.escape(MODEL_ID)}/(.+?)/(\w+): (.+)$"
    for m in re.finditer(pattern, output, flags=re.MULTILINE):
        (run.changes if m.group(1) else run.summary)[m.group(2), m.group(3)] = m.group(4)
    return run


def cases(methods: tuple[str, ...], photos: tuple[str, ...] = PHOTOS) -> list[Case]:
    return [(method, photo) for method in methods for photo in photos]


def is_verdict(message: str) -> bool:
    """Whether a junit failure message is a verdict of the gate: an assertion of a check, a NaN value, a
    known failure that stopped failing (strict xfail), or one of xai-eval's one-line errors about the case
    (``<node id>: ...``: a NaN attribution, a method that Captum refuses to run on the model). A crash
    (TypeError, ...) or a missing baseline, snapshot or fingerprint must not count as caught."""
    missing = ("no baseline entry", "has no entries for profile", "no explanation snapshot", "no model fingerprint",
               "has no snapshots")
    verdict = message.startswith(("AssertionError: ", "suites/", "Failed: max sensitivity of", "[XPASS(strict)] known failure"))
    return verdict and not any(text in message for text in missing)


@dataclass(frozen=True)
class Regression:
    name: str
    mutation: str
    affected: tuple[str, ...]
    witness: str
    """The check that must catch it in every affected case."""
    suites: tuple[str, ...] = SENSITIVITY_SNAPSHOT
    images: str = "images"
    paired: str | None = ""
    """How the summary names the witness's change ('' : as ``witness``; None: no change to classify, a refusal)."""
    refused: str = ""
    """A change the method cannot run under: every affected case's failure must be xai-eval's one-line refusal
    containing this text (there is no changed number for the paired reruns to classify)."""
    paired_blind: bool = False
    """A change the paired test cannot tell from the draws at K = 5 (docs/benchmarks.md): it still fails by default
    (it changed), and its meaning must read as no evidence, so the blind spot stays visible, never a pass."""

    @property
    def model_level(self) -> bool:
        return self.affected == METHODS and self.witness in ("setup", "fingerprint")

    @property
    def changed(self) -> str | None:
        if self.refused:
            return None
        return self.witness if self.paired == "" else self.paired

    @property
    def photos(self) -> tuple[str, ...]:
        return PHOTOS if self.model_level else (PAIRED_PHOTO,)


REGRESSIONS = [
    Regression("noise_off", "noise_off", ("IG-SG", "IG-VG"), "snapshot"),
    Regression("ig_4_steps", "ig_4_steps", ("IG",), "snapshot", SNAPSHOT_SUITE),
    Regression("gs_no_input_noise", "gs_no_input_noise", ("GradientSHAP",), "snapshot"),
    Regression("gs_zero_baseline", "gs_zero_baseline", ("GradientSHAP",), "snapshot", paired_blind=True),
    Regression("occlusion_fill", "occlusion_fill", ("Occlusion",), "snapshot", SNAPSHOT_SUITE),
    Regression("gbp_no_rewrite", "gbp_no_rewrite", ("GuidedBackprop",), "snapshot"),
    # Captum has no LRP rule for the un-adapted model's SamePadConv2d: refused in one line, nothing to classify
    Regression("lrp_unadapted", "lrp_unadapted", ("LRP",), "snapshot", refused="has no rule defined"),
    Regression("gradcam_early", "gradcam_early", ("GuidedGradCAM",), "snapshot"),
    Regression("vg_rescaled", "vg_rescaled", ("IG-VG",), "snapshot"),
    Regression("sg_blurred", "sg_blurred", ("IG-SG",), "snapshot"),
    Regression("sg_as_vargrad", "sg_as_vargrad", ("IG-SG",), "snapshot"),
    Regression("gs_summed", "gs_summed", ("GradientSHAP",), "snapshot"),
    Regression("ig_channels_rotated", "ig_channels_rotated", ("IG",), "snapshot", SNAPSHOT_SUITE),
    Regression("infidelity_doubled", "infidelity_doubled", ("IG", "GradientSHAP", "GuidedBackprop"), "metric infidelity",
               (METRICS_SUITE,), paired="infidelity"),
    Regression("train_mode", "train_mode", METHODS, "setup", SNAPSHOT_SUITE, paired=None),
    Regression("no_normalize", "no_normalize", METHODS, "fingerprint", SNAPSHOT_SUITE),
    Regression("weights_drift", "weights_drift", METHODS, "fingerprint", SNAPSHOT_SUITE),
    Regression("backward_only", "backward_only", METHODS, "fingerprint", SNAPSHOT_SUITE),
    Regression("target_plus_1", "", METHODS, "fingerprint", SNAPSHOT_SUITE, "images_label_plus_1"),
]
"""IG's and Occlusion's rows run the snapshot suite alone: their max sensitivity costs 11 explanations a
photo (a third of the suite's time) for a row the snapshot already decides."""


def _row(regression: Regression, run: GateRun) -> str:
    affected = cases(regression.affected, regression.photos)
    caught = [key for key in affected if key in run.failed]
    if regression.model_level:  # once per (model, photo)
        photos = sorted({photo for _, photo in caught})
        how = sorted({run.summary.get((method, photo), "?").split(",")[0] for method, photo in caught})
        return f"| {regression.name} | {len(PHOTOS)} photos | {len(photos)} | {'; '.join(how)} |"
    witnesses = sorted({run.summary.get(key, "?") for key in caught})
    return f"| {regression.name} | {len(affected)} | {len(caught)} | {'; '.join(witnesses)} |"


@pytest.mark.parametrize("regression", REGRESSIONS, ids=[r.name for r in REGRESSIONS])
def test_regression_fails_the_gate_in_every_affected_case(project: Path, regression: Regression) -> None:
    select = () if regression.model_level else ("-k", PAIRED_PHOTO)
    run = run_gate(project, regression.mutation, regression.suites, regression.affected, *select, images=regression.images)
    print(_row(regression, run))
    assert run.returncode == 1, run.output[-3000:]
    assert not run.skipped, f"{regression.name}: cases that did not run: {run.skipped}"
    affected = cases(regression.affected, regression.photos)
    missed = [key for key in affected if key not in run.failed]
    assert not missed, f"{regression.name}: the gate passed {missed}\n{run.output[-3000:]}"
    for key in affected:
        if regression.witness == "setup":  # refused at setup, in one line, for every case
            wrong = [m for m in run.messages[key] if not (m.startswith("failed on setup") and "is in training mode" in m)]
        else:
            wrong = [m for m in run.messages[key] if not is_verdict(m)]
        assert not wrong, f"{regression.name}: {key} failed by something other than a verdict: {wrong}"
        if regression.refused:
            assert all(regression.refused in m for m in run.messages[key]), (
                f"{regression.name}: {key}: not the one-line refusal ({regression.refused!r}): the method now runs, so "
                f"give the row the paired meaning to assert: {run.messages[key]}")
        assert regression.witness in run.failed[key], f"{regression.name}: {key} was not caught by {regression.witness}: {run.failed[key]}"
        if not regression.model_level:  # a method's change: the model must be the recorded one
            assert "fingerprint" not in run.failed[key], f"{regression.name}: the fingerprint moved, so the row proves nothing"
        assert run.summary.get(key), f"{regression.name}: no 'caught by' line for {key}\n{run.output[-3000:]}"
        line = run.changes.get(key, "")
        if regression.paired_blind:  # the known blind spot: caught at the floor, no paired evidence
            assert re.search(rf"(^|; ){re.escape(str(regression.changed))} noise \(", line), (
                f"{regression.name}: {key}: the paired reruns now see it: update the row and docs/benchmarks.md: {line}")
        elif regression.changed is not None:  # the paired reruns say what it means
            assert re.search(rf"(^|; ){re.escape(regression.changed)} (WORSE|beyond) \(", line), (
                f"{regression.name}: {key}: the paired reruns did not call the {regression.changed} worse or changed: {line}\n{run.output[-4000:]}")


def test_an_unknown_mutation_is_refused() -> None:
    """A misspelt ``XAI_MUTATION`` stops the run instead of gating the unmutated model (a row would then prove nothing)."""
    env = os.environ | {"XAI_MUTATION": "gs_zero_baselin", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", "import tests.mutants"], cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "'gs_zero_baselin' is not a mutation of tests/mutants.py" in done.stderr, done.stderr


BATCHED = ("IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion")
BENIGN = [
    # name, XAI_MUTATION, options, suites, methods affected
    # one thread's max sensitivity is what each of -n 2's workers computes (a thread each): that row has it
    ("one_thread", "", ("--xai-threads", "1"), SNAPSHOT_SUITE, METHODS),
    # an NCHW model is several times slower here: its snapshots and fingerprints (the numbers the memory
    # format moves most) in CI; its max sensitivity (6.3e-5) is measured by benchmarks/numeric_floor.py
    ("nchw_model", "nchw", (), SNAPSHOT_SUITE, METHODS),
    ("other_batch_sizes", "batch_sizes", (), (*SENSITIVITY_SNAPSHOT, METRICS_SUITE), BATCHED),
    # -n 2 with the metrics: each worker's one thread is the one_thread row's max sensitivity and metrics
    ("xdist_two_workers", "", ("-p", "xdist", "-n", "2"), (*SENSITIVITY_SNAPSHOT, METRICS_SUITE), METHODS),
]


@pytest.mark.parametrize(("name", "mutation", "options", "suites", "affected"), BENIGN, ids=[b[0] for b in BENIGN])
def test_benign_change_passes_the_gate(project: Path, name: str, mutation: str, options: tuple[str, ...],
                                       suites: tuple[str, ...], affected: tuple[str, ...]) -> None:
    """Changes nobody means (threads, memory format, batch sizes, xdist) move numbers by rounding only:
    every recorded number stays within its numeric floor, so every case passes."""
    run = run_gate(project, mutation, suites, affected, *options)
    print(f"| {name} (benign) | {len(cases(affected))} | {len(run.failed)} | {'; '.join(sorted(set(run.summary.values()))) or '-'} |")
    assert run.returncode == 0 and not run.failed, f"{name}: {run.failed}\n{run.output[-3000:]}"
    assert not run.skipped, f"{name}: cases that did not run: {run.skipped}"  # nothing went green by not running
    assert run.ran == {key: expected_tests(suites) for key in cases(affected)}, run.output[-3000:]
    assert not run.changes, f"{name}: numbers moved beyond the floor: {run.changes}"


DRAW_ONLY = [
    # name, XAI_MUTATION, options, suites, methods whose numbers move
    ("another seed (--xai-seed 3)", "", ("--xai-seed", "3"), SENSITIVITY_SNAPSHOT, METHODS),
    ("another random stream", "restreamed", (), (*SENSITIVITY_SNAPSHOT, METRICS_SUITE), ("IG-SG", "IG-VG", "GradientSHAP")),
]


@pytest.mark.parametrize(("name", "mutation", "options", "suites", "moved"), DRAW_ONLY, ids=["reseed", "restreamed"])
def test_a_draw_only_change_fails_every_moved_number_as_no_evidence_the_expected_value_moved(
    project: Path, name: str, mutation: str, options: tuple[str, ...], suites: tuple[str, ...], moved: tuple[str, ...]
) -> None:
    """Another seed moves every case's perturbations and the maps of the methods with dice; another random stream
    moves the stochastic methods' numbers and maps. Each moved number fails (CI runs one seed: a moved number means
    something computed it differently), and, rerun on the recorded seeds, each is called no evidence that the
    expected value moved. The maps of the methods without dice do not move. On the calibrated photo."""
    run = run_gate(project, mutation, suites, moved, *options, "-k", PAIRED_PHOTO)
    affected = {(method, PAIRED_PHOTO) for method in moved}
    failed = set(run.failed)
    print(f"| {name} | {len(affected)} | {len(failed)} | "
          f"{'; '.join(sorted({part.split(' (')[0] for line in run.changes.values() for part in line.split('; ') if ' (' in part}))} |")
    assert failed == affected, f"every case's numbers moved: {sorted(affected - failed)}"
    assert set(run.changes) == failed, run.output[-3000:]
    not_noise = {key: line for key, line in run.changes.items() if re.search(r"\b(WORSE|better|beyond|unknown)\b \(", line)}
    assert not not_noise, f"a draw-only change called more than the draws: {not_noise}"
    for key, checks in run.failed.items():
        assert "fingerprint" not in checks, f"{key}: a model has no dice"
        assert ("snapshot" in checks) == (key[0] in ("IG-SG", "IG-VG", "GradientSHAP")), f"{key}: {checks}"
        assert all("no evidence the expected value moved" in m for m in run.messages[key]), run.messages[key]
    assert not run.skipped


def expected_tests(suites: tuple[str, ...]) -> int:
    """How many tests of a case the sensitivity, snapshot and metrics suites hold."""
    count = {"suites/test_sensitivity.py": 1, "suites/test_snapshot.py": 2, METRICS_SUITE: len(METRIC_FILES)}
    return sum(count[suite] for suite in suites)
