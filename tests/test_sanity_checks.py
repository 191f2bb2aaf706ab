"""Each sanity property's pass and fail paths, on tiny seeded models."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from xai_eval.explain.explainer import Explainer
from xai_eval.explain.methods import MethodSpec, get_method
from xai_eval.explain.paired import PairedGradientShap
from xai_eval.explain.randomness import MethodDraws
from xai_eval.config.profiles import BUILTIN_PROFILES
from xai_eval.measure import checks, sanity, verdicts


class Tiny(nn.Module):
    def __init__(self, n_classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.relu = nn.ReLU()
        self.block = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.block(self.relu(self.conv(x)))), 1))


@dataclass
class Case:
    """An explainer on a tiny seeded model with its input, target and clean attribution."""

    explainer: Explainer
    inputs: torch.Tensor
    target: int

    @property
    def attribution(self) -> torch.Tensor:
        return self.explainer(self.inputs, target=self.target)

    @property
    def args(self) -> tuple[Explainer, torch.Tensor, int, torch.Tensor]:
        return self.explainer, self.inputs, self.target, self.attribution


def make_case(method: str | MethodSpec, model: nn.Module | None = None, target: int = 2) -> Case:
    torch.manual_seed(0)
    model = (model or Tiny()).eval()
    spec = get_method(method) if isinstance(method, str) else method
    inputs = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(7))
    kwargs = BUILTIN_PROFILES["quick"].method_kwargs(spec)
    if spec.name == "Occlusion":  # the quick window is larger than the tiny input
        kwargs |= {"sliding_window_shapes": (3, 4, 4), "strides": (3, 2, 2)}
    return Case(Explainer(spec, model, "block", kwargs, MethodDraws(11)), inputs, target)


# --- well-formed -----------------------------------------------------------------------------

def test_well_formed_paths() -> None:
    x = torch.ones(1, 3, 4, 4)
    assert sanity.well_formed(torch.randn(1, 3, 4, 4), x, 1.0).ok
    assert sanity.well_formed(torch.zeros(1, 3, 4, 4), x, 1.0).describe() == "all zeros"
    assert sanity.well_formed(torch.full((1, 3, 4, 4), math.nan), x, 1.0).describe() == "not finite"
    assert sanity.well_formed(torch.ones(1, 1, 4, 4), x, 1.0).describe() == "wrong shape"
    rounding = sanity.well_formed(torch.full((1, 3, 4, 4), 1e-9), x, 1.0)
    assert not rounding.ok and "rounding level" in rounding.describe()
    assert not sanity.well_formed(torch.randn(1, 3, 4, 4), x, 0.0).ok, "no reference scale is no pass"


def test_well_formed_rejects_vargrad_without_noise() -> None:
    """A VarGrad whose noise is off returns rounding noise: nonzero, finite, and rejected."""
    case = make_case("IG-VG")
    case.explainer.kwargs["stdevs"] = 1e-7  # noise at rounding level: VarGrad is nonzero but meaningless
    reference = sanity.gradient_times_input_norm(case.explainer.model, case.inputs, case.target)
    broken = sanity.well_formed(case.attribution, case.inputs, reference)
    assert broken.nonzero and broken.finite and not broken.energetic and not broken.ok, broken
    healthy = make_case("IG-VG")
    assert sanity.well_formed(healthy.attribution, healthy.inputs, reference).ok


# --- completeness ----------------------------------------------------------------------------

def _completeness(case: Case) -> checks.Completeness:
    return checks.completeness(case.explainer, case.inputs, case.target)


def test_completeness_passes_for_ig_and_gradientshap() -> None:
    ig = _completeness(make_case("IG"))
    assert verdicts.completeness(ig, "quick").outcome == "pass"
    shap = _completeness(make_case("GradientSHAP"))
    assert shap.n_samples == sanity.COMPLETENESS_SAMPLES
    assert verdicts.completeness(shap, "quick").outcome == "pass", shap


def test_ig_completeness_from_the_case_attribution_matches_captums_delta() -> None:
    case = make_case("IG")
    recomputed = _completeness(case)
    reused = checks.completeness(case.explainer, case.inputs, case.target, case.attribution)
    assert reused.mean_delta == pytest.approx(recomputed.mean_delta, rel=1e-4, abs=1e-6)
    assert reused.relative_error == pytest.approx(recomputed.relative_error, rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("reuse", [False, True], ids=["recomputed", "from-attribution"])
def test_completeness_fails_when_the_inputs_factor_is_missing(reuse: bool) -> None:
    broken = MethodSpec("IG", "captum.attr.IntegratedGradients", {"quick": {"n_steps": 32}},
                        init_kwargs={"multiply_by_inputs": False}, baselines="zeros")
    case = make_case(broken)
    result = checks.completeness(case.explainer, case.inputs, case.target, case.attribution if reuse else None)
    verdict = verdicts.completeness(result, "quick")
    assert verdict.outcome == "fail" and "misses f(x) - f(baseline)" in verdict.message


def test_the_midpoint_draws_replace_only_the_interpolation_points() -> None:
    draws, grid = MethodDraws(5), checks.MidpointDraws(5)
    like = torch.zeros(1)
    assert grid.stratified("a", 4, like).tolist() == [0.125, 0.375, 0.625, 0.875]
    assert sorted(draws.stratified("a", 4, like).tolist()) != [0.125, 0.375, 0.625, 0.875]
    assert torch.equal(grid.normal("noise", (3, 2), like), draws.normal("noise", (3, 2), like))


class _ZeroSumShap(PairedGradientShap):
    """GradientSHAP whose attributions are recentred to sum to zero (its own deltas left as they were)."""

    def attribute(self, inputs, baselines, target=None, **kwargs):  # type: ignore[no-untyped-def]
        result = super().attribute(inputs, baselines, target, **kwargs)
        if isinstance(result, tuple):
            return result[0] - result[0].mean(), result[1]
        return result - result.mean()


class _ScaledShap(PairedGradientShap):
    """GradientSHAP whose attributions are multiplied by ``FACTOR`` (its own deltas left as they were)."""

    FACTOR = 1.5

    def attribute(self, inputs, baselines, target=None, **kwargs):  # type: ignore[no-untyped-def]
        result = super().attribute(inputs, baselines, target, **kwargs)
        if isinstance(result, tuple):
            return result[0] * self.FACTOR, result[1]
        return result * self.FACTOR


class _SummedShap(_ScaledShap):
    """GradientSHAP that sums its samples instead of averaging them (its own deltas left as they were)."""

    def attribute(self, inputs, baselines, target=None, **kwargs):  # type: ignore[no-untyped-def]
        self.FACTOR = kwargs.get("n_samples", 5)
        return super().attribute(inputs, baselines, target, **kwargs)


class _NoFactorShap(PairedGradientShap):
    """GradientSHAP without the (x - b) factor: the gradient alone (its own deltas left as they were)."""

    def attribute(self, inputs, baselines, target=None, **kwargs):  # type: ignore[no-untyped-def]
        result = super().attribute(inputs, baselines, target, **kwargs)
        attribution = result[0] if isinstance(result, tuple) else result
        factor = inputs - baselines.mean(0, keepdim=True)
        gradient = attribution / factor.where(factor.abs() > 1e-6, torch.ones_like(factor))
        return (gradient, result[1]) if isinstance(result, tuple) else gradient


@pytest.mark.parametrize("broken", [_ZeroSumShap, _SummedShap, _ScaledShap, _NoFactorShap],
                         ids=["zero-sum", "summed", "times-1.5", "no-factor"])
def test_completeness_fails_for_broken_gradientshap(broken: type) -> None:
    """The reference is computed from the model, so a method cannot move it by reporting its own deltas."""
    spec = MethodSpec("GradientSHAP", broken, {"quick": {"n_samples": 8, "stdevs": 0.1}}, baselines="zeros_and_noise")
    case = make_case(spec)
    result = _completeness(case)
    verdict = verdicts.completeness(result, "quick")
    assert verdict.outcome == "fail" and f"over {sanity.COMPLETENESS_SAMPLES} samples" in verdict.message, result


def test_gradientshap_reference_is_the_models_mean_output_difference() -> None:
    """The reference equals Captum-style per-sample deltas' reference (mean f(x + e_i) - f(b_i)) of an
    honest GradientSHAP, so the check's two ways of computing it agree."""
    case = make_case("GradientSHAP")
    grid = case.explainer.with_draws(checks.MidpointDraws(case.explainer.draws.seed))
    attribution, deltas = grid.with_delta(case.inputs, case.target, n_samples=16, draw_name="completeness")
    from_deltas = float(attribution.double().sum()) - float(deltas.double().mean())
    independent = checks._sampled_output_difference(grid, case.inputs, case.target, 16, "completeness")
    assert independent == pytest.approx(from_deltas, rel=1e-4, abs=1e-4)


# --- conservation ----------------------------------------------------------------------------

class SharedReluResidual(nn.Module):
    """ResNet's two mistakes in miniature: a reused ReLU module and a functional skip addition."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out) + x)
        return self.fc(torch.flatten(self.pool(out), 1))


def test_conservation_passes_on_the_adapted_model_and_reports_the_retained_share() -> None:
    result = checks.lrp_conservation(*make_case("LRP", SharedReluResidual()).args)
    assert verdicts.conservation(result).outcome == "pass"
    assert math.isfinite(result.retained_share)


def test_conservation_fails_without_adaptation() -> None:
    unadapted = MethodSpec("LRP", "captum.attr.LRP", {"quick": {}})
    result = checks.lrp_conservation(*make_case(unadapted, SharedReluResidual()).args)
    verdict = verdicts.conservation(result)
    assert verdict.outcome == "fail" and "relevance leaks" in verdict.message


def test_bias_free_copy_zeroes_biases_and_shifts_only_in_the_copy() -> None:
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))
    model[1].running_mean.fill_(2.0)
    clone = sanity.bias_free_copy(model)
    assert torch.all(clone[0].bias == 0) and torch.all(clone[1].bias == 0) and torch.all(clone[1].running_mean == 0)
    assert torch.all(model[1].running_mean == 2.0) and torch.any(model[0].bias != 0)


# --- randomisation ---------------------------------------------------------------------------

def test_spearman() -> None:
    a = torch.arange(12.0).reshape(1, 1, 3, 4)
    assert sanity.spearman(a, a * 3) == pytest.approx(1.0)
    assert sanity.spearman(a, a.flip(-1).flip(-2)) == pytest.approx(-1.0)
    assert math.isnan(sanity.spearman(a, torch.zeros_like(a)))
    ties = torch.tensor([[[[0.0, 0.0, 1.0, 2.0]]]])
    assert sanity.spearman(ties, ties) == pytest.approx(1.0)


def test_cascade_stages_grow_from_the_top() -> None:
    stages = sanity.cascade_stages(Tiny(), "block")
    assert [name for name, _ in stages] == ["last block", "whole network"]
    assert stages[0][1] == ("block.0", "fc")
    assert stages[1][1] == ("conv", "block.0", "fc")


def test_randomized_copy_changes_only_listed_modules_reproducibly() -> None:
    model = Tiny()
    first = sanity.randomized_copy(model, ["fc"], seed=1)
    again = sanity.randomized_copy(model, ["fc"], seed=1)
    assert not torch.equal(first.fc.weight, model.fc.weight)
    assert torch.equal(first.fc.weight, again.fc.weight)
    assert torch.equal(first.conv.weight, model.conv.weight)


def _randomization(case: Case) -> checks.Randomization:
    return checks.randomization(*case.args, "block", 5)


def test_randomization_drops_for_gradients_and_not_for_a_model_blind_method() -> None:
    result = _randomization(make_case("IG"))
    assert result.correlations["whole network"] < sanity.RANDOMIZATION_MAX_SPEARMAN["whole network"]
    assert verdicts.randomization(result.correlations, result.constant_stages).outcome == "pass"
    blind = MethodSpec("InputOnly", _InputOnly, {"quick": {}})
    blind_result = _randomization(make_case(blind))
    assert blind_result.correlations["whole network"] == pytest.approx(1.0)
    verdict = verdicts.randomization(blind_result.correlations, blind_result.constant_stages)
    assert verdict.outcome == "fail" and "does not depend on those parameters" in verdict.message


def test_randomization_nan_passes_only_with_a_stated_reason() -> None:
    nan = {"last block": math.nan, "whole network": math.nan}
    assert verdicts.randomization(nan, ("last block", "whole network")).outcome == "pass"
    verdict = verdicts.randomization(nan)
    assert verdict.outcome == "fail" and "NaN without a stated reason" in verdict.message


def test_randomization_of_a_constant_original_fails() -> None:
    constant = MethodSpec("Constant", _Constant, {"quick": {}})
    result = _randomization(make_case(constant))
    assert verdicts.randomization(result.correlations, result.constant_stages).outcome == "fail"


class _Constant:
    """An 'explanation' that is the same constant map for every model."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, target: int | None = None) -> torch.Tensor:
        return torch.ones_like(inputs)


class _InputOnly:
    """An 'explanation' that ignores the model: the input's magnitude (an edge-detector stand-in)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, target: int | None = None) -> torch.Tensor:
        return inputs.abs()


# --- determinism and target dependence -------------------------------------------------------

def test_determinism_paths() -> None:
    assert checks.is_deterministic(*make_case("IG-SG").args)
    unseeded = MethodSpec("Noisy", _Unseeded, {"quick": {}})
    case = make_case(unseeded)
    assert not checks.is_deterministic(*case.args)


def test_determinism_remakes_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Draws that cannot be reproduced from their seed are caught: the recomputation makes them anew."""
    from xai_eval.explain import randomness

    case = make_case("IG-SG")
    attribution = case.attribution
    counter = iter(range(1000))
    real = randomness.generator
    monkeypatch.setattr(randomness, "generator", lambda seed, *parts: real(seed, *parts, next(counter)))
    assert not checks.is_deterministic(case.explainer, case.inputs, case.target, attribution)


class _Unseeded:
    generator = torch.Generator().manual_seed(0)

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, target: int | None = None) -> torch.Tensor:
        return torch.rand(inputs.shape, generator=self.generator)


@pytest.mark.parametrize("method", ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop",
                                    "GuidedGradCAM"])
def test_target_dependence_passes_for_every_builtin_method(method: str) -> None:
    result = checks.target_dependence(*make_case(method).args)
    assert verdicts.target_dependence(result).outcome == "pass", result


@pytest.mark.parametrize("method", ["IG-VG", "GradientSHAP", "IG-SG"])
def test_target_dependence_fails_for_a_stochastic_method_that_ignores_the_target(method: str) -> None:
    """The same method with its target pinned: with paired draws the two explanations are equal."""
    case = make_case(method)
    inner = case.explainer.attributor
    pinned = _PinnedTarget(inner, case.target)
    case.explainer._attributor = pinned
    verdict = verdicts.target_dependence(checks.target_dependence(*case.args))
    assert verdict.outcome == "fail" and "ignores the target" in verdict.message


class _PinnedTarget:
    def __init__(self, inner: object, target: int) -> None:
        self.inner, self.target = inner, target

    def attribute(self, inputs, target=None, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.attribute(inputs, target=self.target, **kwargs)


def test_target_dependence_fails_for_a_model_blind_method() -> None:
    blind = MethodSpec("InputOnly", _InputOnly, {"quick": {}})
    verdict = verdicts.target_dependence(checks.target_dependence(*make_case(blind).args))
    assert verdict.outcome == "fail"


class _Raises:
    """A method whose attribute() fails inside Captum (as LRP does on a model it has no rules for)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs, target=None, **kwargs):  # type: ignore[no-untyped-def]
        raise TypeError("Module of type Conv has no rule defined\nsecond line")


def test_a_method_that_raises_inside_captum_is_one_line() -> None:
    from xai_eval.errors import XaiEvalError

    case = make_case(MethodSpec("Raises", _Raises, {"quick": {}}))
    with pytest.raises(XaiEvalError, match=r"^method Raises: _Raises.attribute raised TypeError: Module of type Conv "
                       r"has no rule defined; check the method's MethodSpec") as info:
        case.attribution
    assert "\n" not in str(info.value)
