"""The seed knob, profiles as data and calibrated seed spreads, through the real plugin (pytester)."""

from __future__ import annotations

import json
import textwrap

import pytest

from xai_eval.measure.change import noise_interval
from xai_eval.measure.spread import Spread, prediction_factor

from .test_bad_input import _assert_one_line_error

ZERO_PROFILE = """
[tool.xai_eval]
models = ["tinynet:build"]
images = "images"
baselines = "baselines.json"

[tool.xai_eval.profiles.zero]
extends = "quick"
perturb_radius = 0
n_perturb_samples = 4

[tool.xai_eval.profiles.zero.methods.Occlusion]
sliding_window_shapes = [3, 4, 4]
strides = [3, 4, 4]

[tool.xai_eval.profiles.zero.methods.IG]
n_steps = 8
"""


def _results(pytester: pytest.Pytester, name: str = "results.json") -> dict:
    return json.loads((pytester.path / name).read_text())


def _values(results: dict) -> dict[tuple[str, str], float]:
    return {(c["method"], c["image"]): c["max_sensitivity"]["value"] for c in results["cases"]}


def test_a_user_profile_with_radius_zero_gives_zero_for_every_method(gate_project: pytest.Pytester) -> None:
    gate_project.makepyprojecttoml(ZERO_PROFILE)
    result = gate_project.runpytest("--xai-profile", "zero", "--xai-update-baselines", "--xai-results", "results.json")
    result.assert_outcomes(passed=16)
    values = _values(_results(gate_project))
    assert len(values) == 16 and all(value == 0.0 for value in values.values()), values
    stored = json.loads((gate_project.path / "baselines.json").read_text())
    assert set(stored["profiles"]) == {"zero"}, "a profile's baselines live under its own name"


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\nn_perturb = 3\n', "[tool.xai_eval.profiles.x]: unknown key 'n_perturb'; known: extends, methods, image_size"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\nperturb_radius = "big"\n', "[tool.xai_eval.profiles.x] perturb_radius: perturb_radius must be a number >= 0, got 'big'"),
        ('[tool.xai_eval.profiles.x]\nextends = "slow"\n', "[tool.xai_eval.profiles.x] extends: must name a profile defined before it"),
        ('[tool.xai_eval.profiles.quick]\nextends = "quick"\n', "[tool.xai_eval.profiles.quick]: 'quick' is a built-in profile"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.IG]\nn_stepz = 3\n',
         "[tool.xai_eval.profiles.x.methods.IG]: unknown key 'n_stepz'; known:"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.IG]\nn_steps = 2.5\n',
         "[tool.xai_eval.profiles.x.methods.IG] n_steps: n_steps must be a whole number >= 1, got 2.5"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.Nope]\nn_steps = 2\n',
         "[tool.xai_eval.profiles.x.methods.Nope]: unknown method 'Nope'"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.IG-SG]\nnt_samples = 0\n',
         "[tool.xai_eval.profiles.x.methods.IG-SG] nt_samples: nt_samples must be a whole number >= 1, got 0"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.GradientSHAP]\nn_samples_batch_size = "big"\n',
         "n_samples_batch_size must be a whole number >= 1, got 'big'"),
        ('[tool.xai_eval.profiles.x]\nextends = "quick"\n[tool.xai_eval.profiles.x.methods.GradientSHAP]\ndraw_name = "x"\n',
         "[tool.xai_eval.profiles.x.methods.GradientSHAP]: unknown key 'draw_name'"),
    ],
)
def test_bad_profile_tables_are_one_line_errors(gate_project: pytest.Pytester, table: str, fragment: str) -> None:
    base = '[tool.xai_eval]\nmodels = ["tinynet:build"]\nimages = "images"\nbaselines = "baselines.json"\n'
    gate_project.makepyprojecttoml(base + table)
    result = gate_project.runpytest("--xai-profile", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_the_seed_is_mixed_into_every_draw_and_reported(gate_project: pytest.Pytester) -> None:
    gate_project.makepyprojecttoml(textwrap.dedent("""
        [tool.xai_eval]
        models = ["tinynet:build"]
        methods = ["IG-SG", "LRP"]
        images = "images"
        baselines = "baselines.json"
        """))
    first = gate_project.runpytest("--xai-update-baselines", "--xai-results", "seed0.json")
    first.stdout.fnmatch_lines(["*xai-eval max sensitivity (profile quick, seed 0)*", "*xai-eval: seed 0, *"])
    gate_project.runpytest("--xai-update-baselines", "--xai-results", "again.json")
    other = gate_project.runpytest("--xai-seed", "7", "--xai-update-baselines", "--xai-results", "seed7.json")
    other.stdout.fnmatch_lines(["*xai-eval: seed 7, *"])
    seed0, seed7 = _results(gate_project, "seed0.json"), _results(gate_project, "seed7.json")
    assert seed0["run"]["seed"] == 0 and seed7["run"]["seed"] == 7
    assert _values(seed0) == _values(_results(gate_project, "again.json"))
    changed = {key for key in _values(seed0) if _values(seed0)[key] != _values(seed7)[key]}
    assert changed == set(_values(seed0)), "the seed moves every draw: the perturbations of every method too"


def test_seed_in_pyproject(gate_project: pytest.Pytester) -> None:
    gate_project.makepyprojecttoml(textwrap.dedent("""
        [tool.xai_eval]
        models = ["tinynet:build"]
        methods = ["IG"]
        images = "images"
        baselines = "baselines.json"
        seed = 3
        """))
    gate_project.runpytest("--xai-update-baselines").stdout.fnmatch_lines(["*seed 3*"])


def test_calibration_writes_the_seeds_and_a_reseed_is_only_the_draws_by_its_paired_reruns(gate_project: pytest.Pytester) -> None:
    """Calibrated on IG (spread 3-6 % on the tiny model), a reseeded run changes every number (the
    perturbations are reseeded). Rerun on the recorded seeds, each change is no evidence the expected value moved;
    without the reruns it is unknown, and unknown fails under every policy. IG-SG with the quick profile's 3 noise
    samples has a 10-19 % spread on it, so it is listed as loose, not hidden."""
    gate_project.makepyprojecttoml(textwrap.dedent("""
        [tool.xai_eval]
        models = ["tinynet:build"]
        methods = ["IG-SG", "IG"]
        images = "images"
        baselines = "baselines.json"
        """))
    result = gate_project.runpytest("--xai-calibrate", "5")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*4 new, calibrated under 5 other seeds*"])
    result.stdout.fnmatch_lines(["*loose number(s) of * case(s), spread under other seeds above 5%*", "*tinynet.build-IG-SG-*"])
    stored = json.loads((gate_project.path / "baselines.json").read_text())["profiles"]["quick"]["tinynet.build"]
    for method in ("IG-SG", "IG"):
        for image in ("a", "b"):
            entry = stored[method][image]
            spread = entry["spread"]
            assert set(entry) == {"value", "seed", "seeds", "spread"} and entry["seed"] == 0
            assert sorted(entry["seeds"]) == [str(10_000 + i) for i in range(1, 6)]
            assert spread["k"] == 6 and spread["min"] <= entry["value"] <= spread["max"]
            assert min(entry["seeds"].values()) >= spread["min"] and max(entry["seeds"].values()) <= spread["max"]
    assert stored["IG"]["a"]["spread"]["relative"] > 0, "IG's perturbations are reseeded too"
    gate_project.runpytest().assert_outcomes(passed=4)
    for seed in ("1", "2"):
        reseeded = gate_project.runpytest("--xai-seed", seed, "--xai-method", "IG", "--xai-paired-reruns")
        reseeded.assert_outcomes(failed=2)
        reseeded.stdout.fnmatch_lines(["*xai-eval: 2 of 2 case(s) changed beyond the numeric floor: 2 no evidence the "
                                       "expected value moved*"])
        reseeded.stdout.fnmatch_lines(["*+0.0% (+0.0% to +0.0%) over 6 paired seeds*"])
        lenient = gate_project.runpytest("--xai-seed", seed, "--xai-method", "IG", "--xai-fail-on", "worse-beyond-noise",
                                         "--xai-paired-reruns")
        lenient.assert_outcomes(passed=2)
        unpaired = gate_project.runpytest("--xai-seed", seed, "--xai-method", "IG", "--xai-fail-on", "worse-beyond-noise")
        unpaired.assert_outcomes(failed=2)
        unpaired.stdout.fnmatch_lines(["*2 of 2 case(s) changed beyond the numeric floor: 2 changed, with no paired evidence*"])


def test_too_few_calibration_seeds_is_a_one_line_error(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest("--xai-calibrate", "3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, "--xai-calibrate: 3 seeds cannot estimate a spread; use at least 5")


def test_loose_cases_are_listed_with_their_spread(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    path = gate_project.path / "baselines.json"
    data = json.loads(path.read_text())
    entry = data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]
    entry["spread"] = {"min": 0.0, "max": 1.0, "mean": 0.5, "relative": 0.2, "k": 6}
    path.write_text(json.dumps(data))
    result = gate_project.runpytest()
    result.stdout.fnmatch_lines(["*1 loose number(s) of 1 case(s), spread under other seeds above 5%*", "*tinynet.build-IG-a: relative spread 20.0% over 6 seeds*"])


def test_the_noise_is_a_prediction_bound_that_tightens_with_more_seeds() -> None:
    assert prediction_factor(6) == pytest.approx(5.893 * (7 / 6) ** 0.5)
    assert prediction_factor(6) > prediction_factor(21) > prediction_factor(500) > 3.0
    spread = Spread.of([1.0, 1.02, 0.98, 1.01, 0.99, 1.0])
    assert noise_interval(spread)[1] - 1.0 == pytest.approx(prediction_factor(6) * spread.relative, abs=1e-6)
    many = Spread(0.98, 1.02, spread.relative, 21, 1.0)
    assert noise_interval(many)[1] < noise_interval(spread)[1]
