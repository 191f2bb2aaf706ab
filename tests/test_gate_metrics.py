"""Every metric of a profile is gated like max sensitivity, through the real plugin (pytester): its own
baselines file, the comparison at its floor, calibration, the accept command, the results file and the
summary; a metric registered in a conftest.py runs and is recorded; values do not depend on test order,
``-k`` or xdist."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from .test_bad_input import _assert_one_line_error

BUILTIN = ("avg_sensitivity", "infidelity", "ris", "ros", "road")
METRICS_SUITE = """
def test_metric(xai_case, xai_metric, xai_baselines):
    xai_baselines.check_metric(xai_case, xai_metric)
"""
USER_METRIC = '''
import math

from xai_eval.measure.metrics import MetricSpec, MetricValue, register_metric


def positive_share(case, seed, settings):
    attribution = case.attribution_under(seed)
    return float(attribution.clamp_min(0).sum() / attribution.abs().sum()) * settings["scale"]


def undefined_on_b(case, seed, settings):
    if case.key.image == "b":
        return MetricValue(math.nan, {}, "no defined value on b")
    return 1.0


register_metric(MetricSpec(name="positive_share", compute=positive_share, lower_is_better=False,
                           cost="none (the case's attribution)", settings={"quick": {"scale": 1.0}}, rtol=1e-3, atol=1e-6),
                replace=True)
register_metric(MetricSpec(name="undefined_on_b", compute=undefined_on_b, lower_is_better=True, cost="none", rtol=1e-3,
                           atol=1e-6), replace=True)
'''
PROJECT = """
[tool.xai_eval]
models = ["tinynet:build"]
methods = ["IG", "LRP"]
images = "images"
baselines = "baselines.json"
"""


def _metric_values(folder: Path, metric: str, profile: str = "quick") -> dict[tuple[str, str, str], float]:
    data = json.loads((folder / f"{metric}.json").read_text())
    assert data["metric"] == metric and data["schema_version"] == 3
    return {
        (model, method, image): entry["value"]
        for model, methods in data["profiles"][profile].items()
        for method, images in methods.items()
        for image, entry in images.items()
    }


def _all_values(folder: Path) -> dict[str, dict[tuple[str, str, str], float]]:
    return {metric: _metric_values(folder, metric) for metric in BUILTIN}


@pytest.fixture
def metrics_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    gate_project.makepyfile(test_metrics=METRICS_SUITE)
    return gate_project


def test_every_metric_is_recorded_in_its_own_file_compared_and_reported(metrics_project: pytest.Pytester) -> None:
    result = metrics_project.runpytest("--xai-update-baselines", "--xai-results", "results.json")
    result.assert_outcomes(passed=4 + 4 * len(BUILTIN))
    result.stdout.fnmatch_lines(["*xai-eval metrics (profile quick, seed 0)*",
                                 "*method*image*average sensitivity*RIS*ROS*infidelity*ROAD gap*",
                                 "*baselines written to *baselines.json: 0 updated, 4 new*",
                                 "*baselines written to *road.json: 0 updated, 4 new*"])
    values = _all_values(metrics_project.path)
    assert all(len(v) == 4 for v in values.values())
    assert json.loads((metrics_project.path / "baselines.json").read_text())["metric"] == "max_sensitivity"
    case = next(c for c in json.loads((metrics_project.path / "results.json").read_text())["cases"]
                if (c["method"], c["image"]) == ("IG", "a"))
    assert set(case["metrics"]) == set(BUILTIN) and case["max_sensitivity"]["status"] == "updated"
    assert case["metrics"]["road"]["details"]["fractions"] == [0.2, 0.5, 0.8]
    assert case["metrics"]["ros"]["details"]["prediction_changes"] == 0 and case["metrics"]["ros"]["details"]["kept"] == 10
    assert case["metrics"]["infidelity"]["value"] == values["infidelity"]["tinynet.build", "IG", "a"]

    road = metrics_project.path / "road.json"
    saved = road.read_bytes()
    metrics_project.runpytest().assert_outcomes(passed=24)
    assert road.read_bytes() == saved
    metrics_project.runpytest("--xai-calibrate", "5", "-k", "LRP-b and road").assert_outcomes(passed=1, deselected=23)
    data = json.loads(road.read_text())
    entry = data["profiles"]["quick"]["tinynet.build"]["LRP"]["b"]
    entry["value"] += 0.5  # the recorded gap was much higher on every seed: now it is worse (higher is better)
    entry["seeds"] = {seed: value + 0.5 for seed, value in entry["seeds"].items()}
    road.write_text(json.dumps(data))
    regressed = metrics_project.runpytest("--xai-paired-reruns")
    regressed.assert_outcomes(passed=23, failed=1)
    regressed.stdout.fnmatch_lines([
        "*ROAD gap of tinynet.build-LRP-b changed: *: -0.5 (-0.5 to -0.5) over 6 paired seeds: worse: the expected value "
        "moved (paired reruns) (higher is better)*",
        "*quick/tinynet.build/LRP/b: road WORSE*",
        "*failing cases, by the check that caught them*",
        "quick/tinynet.build/LRP/b: road",
        "*to accept the new values run: pytest --xai-paired-reruns --xai-update-baselines "
        "'test_metrics.py::test_metric?tinynet.build-LRP-b-road?'",
    ])


def test_metric_values_do_not_depend_on_test_order_k_or_xdist(metrics_project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    import os

    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    metrics_project.runpytest("--xai-update-baselines", "--xai-threads", share).assert_outcomes(passed=24)
    first = _all_values(metrics_project.path)

    def fresh() -> None:
        for metric in BUILTIN:
            (metrics_project.path / f"{metric}.json").unlink()

    fresh()
    metrics_project.makeconftest("def pytest_collection_modifyitems(items):\n    items.reverse()\n")
    metrics_project.runpytest("--xai-update-baselines", "--xai-threads", share).assert_outcomes(passed=24)
    assert _all_values(metrics_project.path) == first
    fresh()
    metrics_project.runpytest("--xai-update-baselines", "--xai-threads", share, "-k", "LRP-b and test_metric").assert_outcomes(
        passed=len(BUILTIN), deselected=24 - len(BUILTIN))
    assert _all_values(metrics_project.path) == {m: {k: v for k, v in first[m].items() if k[1:] == ("LRP", "b")} for m in BUILTIN}
    fresh()
    (metrics_project.path / "conftest.py").unlink()
    metrics_project.runpytest_subprocess("-n", "2", "--xai-update-baselines").assert_outcomes(passed=24)
    assert _all_values(metrics_project.path) == first


def test_a_metric_registered_in_a_conftest_is_gated_and_recorded(metrics_project: pytest.Pytester) -> None:
    metrics_project.makeconftest(USER_METRIC)
    metrics_project.makepyprojecttoml(PROJECT + textwrap.dedent("""
        [tool.xai_eval.profiles.mine]
        extends = "quick"
        metrics = ["max_sensitivity", "positive_share", "road"]

        [tool.xai_eval.profiles.mine.metric_settings.positive_share]
        scale = 100.0
        """))
    # in a subprocess: the registry is process-wide and must not leak into the other tests
    result = metrics_project.runpytest_subprocess("--xai-profile", "mine", "--xai-update-baselines", "--xai-results", "r.json")
    result.assert_outcomes(passed=4 + 4 * 2)
    result.stdout.fnmatch_lines(["*method*image*ROAD gap*positive_share*",
                                 "*baselines written to *positive_share.json: 0 updated, 4 new*"])
    values = _metric_values(metrics_project.path, "positive_share", "mine")
    assert len(values) == 4 and all(1 < v <= 100 for v in values.values())  # a share (0 to 1) times the profile's 100
    records = json.loads((metrics_project.path / "r.json").read_text())["cases"]
    assert all(set(case["metrics"]) == {"positive_share", "road"} for case in records)
    assert not (metrics_project.path / "infidelity.json").exists()  # not in this profile: not run
    metrics_project.runpytest_subprocess("--xai-profile", "mine").assert_outcomes(passed=12)


def test_a_metric_undefined_for_a_case_is_inconclusive_until_accepted_as_undefined(metrics_project: pytest.Pytester) -> None:
    metrics_project.makeconftest(USER_METRIC)
    metrics_project.makepyprojecttoml(PROJECT + textwrap.dedent("""
        [tool.xai_eval.profiles.odd]
        extends = "quick"
        metrics = ["undefined_on_b"]
        """))
    metrics_project.makepyfile(test_gate="""
        import pytest

        @pytest.mark.xai_metric("max_sensitivity")
        def test_max_sensitivity(xai_case, xai_baselines):
            xai_baselines.check(xai_case, xai_case.max_sensitivity())
        """)
    first = metrics_project.runpytest_subprocess("--xai-profile", "odd", "--xai-strict", "-rs")
    first.assert_outcomes(failed=2, skipped=3)  # a: no baseline; b: inconclusive (never a pass); no max sensitivity here
    first.stdout.fnmatch_lines(["*2 case(s) skipped: 2 inconclusive*", "*got empty parameter set*",
                                "*inconclusive: tinynet.build-IG-b: undefined_on_b: no defined value on b*"])
    accepted = metrics_project.runpytest_subprocess("--xai-profile", "odd", "--xai-update-baselines", "--xai-strict")
    accepted.assert_outcomes(passed=4, skipped=1)  # the undefined cases are recorded as undefined
    path = metrics_project.path / "undefined_on_b.json"
    data = json.loads(path.read_text())
    assert data["profiles"]["odd"]["tinynet.build"]["IG"]["b"] == {"value": None, "undefined": "no defined value on b"}
    assert not (metrics_project.path / "baselines.json").exists()
    metrics_project.runpytest_subprocess("--xai-profile", "odd", "--xai-strict").assert_outcomes(passed=4, skipped=1)
    # a value recorded as a number and now undefined is a change, never inconclusive; and the other way round
    data["profiles"]["odd"]["tinynet.build"]["IG"]["b"] = {"value": 1.0}
    data["profiles"]["odd"]["tinynet.build"]["LRP"]["a"] = {"value": None, "undefined": "was not defined"}
    path.write_text(json.dumps(data))
    again = metrics_project.runpytest_subprocess("--xai-profile", "odd", "--xai-strict", "-k", "not test_max_sensitivity")
    again.assert_outcomes(passed=2, failed=2, deselected=1)
    again.stdout.fnmatch_lines(["*undefined_on_b of tinynet.build-IG-b was recorded as 1 and is no longer defined: no defined value on b*"])
    again.stdout.fnmatch_lines(["*undefined_on_b of tinynet.build-LRP-a was recorded as undefined (was not defined) and is now 1*"])


def test_a_metric_without_a_floor_is_refused_in_one_line() -> None:
    from xai_eval.errors import XaiEvalError
    from xai_eval.measure.metrics import MetricSpec, register_metric

    with pytest.raises(XaiEvalError, match=r"metric 'no_floor': declare its numeric floor, MetricSpec\(\.\.\., rtol=\.\.\., atol=\.\.\.\)"):
        register_metric(MetricSpec(name="no_floor", compute=lambda case, seed, settings: 1.0, lower_is_better=True, cost="none"))
    with pytest.raises(XaiEvalError, match="declare its numeric floor"):
        register_metric(MetricSpec(name="no_floor", compute=lambda case, seed, settings: 1.0, lower_is_better=True,
                                   cost="none", rtol=1e-3))


def test_recording_other_metrics_leaves_the_max_sensitivity_baselines_alone(metrics_project: pytest.Pytester) -> None:
    metrics_project.runpytest("--xai-update-baselines", "test_gate.py").assert_outcomes(passed=4)
    sensitivity = (metrics_project.path / "baselines.json").read_bytes()
    result = metrics_project.runpytest("--xai-calibrate", "5", "test_metrics.py", "-k", "IG-a")
    result.assert_outcomes(passed=len(BUILTIN), deselected=len(BUILTIN) * 3)
    assert (metrics_project.path / "baselines.json").read_bytes() == sensitivity
    for metric in BUILTIN:
        data = json.loads((metrics_project.path / f"{metric}.json").read_text())
        assert data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]["spread"]["k"] == 6, metric
        again = (metrics_project.path / f"{metric}.json").read_bytes()
        from xai_eval.stores.baselines import BaselineStore

        BaselineStore.load(metrics_project.path / f"{metric}.json", metric).save()
        assert (metrics_project.path / f"{metric}.json").read_bytes() == again  # re-saving gives the same bytes


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('metrics = ["nope"]', "[tool.xai_eval.profiles.x] metrics: unknown metric 'nope'; choose from max_sensitivity"),
        ("metrics = []", "[tool.xai_eval.profiles.x] metrics: expected a non-empty list of metric names"),
        ('metrics = ["road", "road"]', "[tool.xai_eval.profiles.x] metrics: ['road', 'road'] names a metric twice"),
        ("[tool.xai_eval.profiles.x.metric_settings.road]\nfractions = [0.5, 1.5]",
         "[tool.xai_eval.profiles.x.metric_settings.road]: fractions must be increasing numbers strictly between 0 and 1"),
        ("[tool.xai_eval.profiles.x.metric_settings.road]\nsteps = 3",
         "[tool.xai_eval.profiles.x.metric_settings.road]: unknown key 'steps'; known: fractions, noise"),
        ("[tool.xai_eval.profiles.x.metric_settings.ris]\nfloor = 3",
         "[tool.xai_eval.profiles.x.metric_settings.ris]: unknown key 'floor'; known: none (this metric has no settings)"),
        ("[tool.xai_eval.profiles.x.metric_settings.infidelity]\nn_samples = 2.5",
         "[tool.xai_eval.profiles.x.metric_settings.infidelity] n_samples: n_samples must be a whole number >= 1"),
        ("[tool.xai_eval.profiles.x.metric_settings.infidelity]\nsquare_side = 2",
         "[tool.xai_eval.profiles.x.metric_settings.infidelity]: square_side must be a fraction of the image's side in (0, 1]"),
        ("[tool.xai_eval.profiles.x.metric_settings.nope]\na = 1",
         "[tool.xai_eval.profiles.x.metric_settings.nope]: unknown metric 'nope'"),
    ],
)
def test_bad_metric_tables_are_one_line_errors(metrics_project: pytest.Pytester, table: str, fragment: str) -> None:
    header = '[tool.xai_eval.profiles.x]\nextends = "quick"\n'
    metrics_project.makepyprojecttoml(PROJECT + header + table + "\n")
    result = metrics_project.runpytest("--xai-profile", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_a_metric_file_holding_another_metric_is_a_one_line_error(metrics_project: pytest.Pytester) -> None:
    (metrics_project.path / "road.json").write_text(json.dumps({"schema_version": 2, "metric": "infidelity", "profiles": {}}))
    result = metrics_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, "road.json: holds the baselines of metric 'infidelity', not of 'road'")


WIRING = '''
import math

import torch

from xai_eval.explain.randomness import generator
from xai_eval.measure.metrics import METRICS
from xai_eval.measure.infidelity import square_removals
from xai_eval.measure.road import road


def test_each_metric_is_what_its_definition_computes(xai_case):
    """Recomputed by hand from the case's own explanations, perturbations and model."""
    case, seed = xai_case, xai_case.run_seed
    value = {name: case.metric(name).value for name in ("avg_sensitivity", "ris", "ros", "infidelity", "road")}
    ratios = case.sensitivity().ratios[0].double()
    assert math.isclose(value["avg_sensitivity"], float(ratios.mean()), rel_tol=1e-6)
    assert value["avg_sensitivity"] < case.max_sensitivity(), "a mean of unequal ratios is below their maximum"

    x = case.inputs[0].double()
    d = case.perturbations()[0].double()
    logits = case.logits()[0].double()
    with torch.no_grad():
        perturbed = torch.cat([case.explainer.model((x + d[j]).unsqueeze(0).float()) for j in range(d.shape[0])]).double()
    keep = perturbed.argmax(1) == logits.argmax()
    input_change = d.flatten(1).norm(dim=1) / x.norm()
    output_change = (perturbed - logits).norm(dim=1) / logits.norm()
    assert math.isclose(value["ris"], float((ratios / input_change.clamp_min(1e-5))[keep].max()), rel_tol=1e-5)
    assert math.isclose(value["ros"], float((ratios / output_change.clamp_min(1e-5))[keep].max()), rel_tol=1e-4)

    settings = METRICS["infidelity"].settings["quick"]
    n, shape = settings["n_samples"], tuple(case.inputs.shape[1:])
    square = max(1, round(settings["square_side"] * min(shape[1:])))
    key = case.key
    masks = square_removals(generator(seed, key.profile, key.model, key.image, "infidelity", n, square), n, shape, square)
    attribution = case.attribution().double()[0]
    with torch.no_grad():
        removed = torch.cat([case.explainer.model((x * (1 - masks[k].double())).unsqueeze(0).float()) for k in range(n)])
    drop = logits[case.target] - removed.double()[:, case.target]
    explained = (attribution * masks.double()).flatten(1).sum(1)
    beta = (explained * drop).mean() / (explained ** 2).mean()
    assert math.isclose(value["infidelity"], float(((beta * explained - drop) ** 2).mean()), rel_tol=1e-3)

    curves = case.metric("road").details
    gap = sum(l - m for l, m in zip(curves["lerf"], curves["morf"])) / len(curves["morf"])
    assert math.isclose(value["road"], gap, rel_tol=1e-9, abs_tol=1e-12)
    assert list(curves["fractions"]) == list(METRICS["road"].settings["quick"]["fractions"])
'''


def test_each_builtin_metric_is_wired_to_its_definition(metrics_project: pytest.Pytester) -> None:
    """The registry entries and the case compute what the metrics' definitions say, recomputed by hand from
    the case's own explanations, perturbations and model (a swapped reference, a mean for a maximum or a
    metric scored on another attribution fails here, not only in the pure functions' tests)."""
    metrics_project.makepyfile(test_wiring=WIRING)
    result = metrics_project.runpytest("test_wiring.py")
    result.assert_outcomes(passed=4)
