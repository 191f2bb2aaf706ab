"""Each sanity property's pass and fail paths, on tiny seeded models."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from xai_eval.measure import checks, sanity
from xai_eval.records.keys import CaseKey
from xai_eval.gate.cases import CaseRun
from xai_eval.explain.explainer import Explainer
from xai_eval.gate.images import ImageEntry
from xai_eval.explain.methods import MethodSpec, get_method
from xai_eval.gate.profiles import PROFILES


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


def make_case(method: str | MethodSpec, model: nn.Module | None = None, target: int = 2) -> CaseRun:
    torch.manual_seed(0)
    model = (model or Tiny()).eval()
    spec = get_method(method) if isinstance(method, str) else method
    image = ImageEntry("img", Path("img.png"), target, "thing", "test", "CC0")
    inputs = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(7))
    return CaseRun(CaseKey("quick", "tiny", spec.name, "img"), image, inputs,
                   Explainer(spec, model, "block", "quick"), PROFILES["quick"], "block")


# --- well-formed -----------------------------------------------------------------------------

def test_well_formed_paths() -> None:
    x = torch.ones(1, 3, 4, 4)
    assert sanity.well_formed(torch.randn(1, 3, 4, 4), x).ok
    assert sanity.well_formed(torch.zeros(1, 3, 4, 4), x).describe() == "all zeros"
    assert sanity.well_formed(torch.full((1, 3, 4, 4), math.nan), x).describe() == "not finite"
    assert sanity.well_formed(torch.ones(1, 1, 4, 4), x).describe() == "wrong shape"


# --- completeness ----------------------------------------------------------------------------

def test_completeness_passes_for_ig_and_gradientshap() -> None:
    ig = checks.completeness(make_case("IG"))
    assert ig.relative_error <= sanity.COMPLETENESS_RTOL["quick"]
    shap = checks.completeness(make_case("GradientSHAP"))
    assert shap.n_deltas >= sanity.COMPLETENESS_MIN_SAMPLES
    assert abs(shap.mean_delta) <= sanity.COMPLETENESS_Z * shap.standard_error


def test_completeness_fails_when_the_inputs_factor_is_missing() -> None:
    broken = MethodSpec("IG", "captum.attr.IntegratedGradients", {"quick": {"n_steps": 32}},
                        init_kwargs={"multiply_by_inputs": False}, baselines="zeros")
    result = checks.completeness(make_case(broken))
    assert result.relative_error > sanity.COMPLETENESS_RTOL["quick"]


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
    result = checks.lrp_conservation(make_case("LRP", SharedReluResidual()))
    assert result.bias_free_relative_error <= sanity.CONSERVATION_RTOL
    assert math.isfinite(result.retained_share)


def test_conservation_fails_without_adaptation() -> None:
    unadapted = MethodSpec("LRP", "captum.attr.LRP", {"quick": {}})
    result = checks.lrp_conservation(make_case(unadapted, SharedReluResidual()))
    assert result.bias_free_relative_error > sanity.CONSERVATION_RTOL


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
    assert [name for name, _ in stages] == ["classifier", "last block", "whole network"]
    assert stages[0][1] == ("fc",)
    assert stages[1][1] == ("block.0", "fc")
    assert stages[2][1] == ("conv", "block.0", "fc")


def test_randomized_copy_changes_only_listed_modules_reproducibly() -> None:
    model = Tiny()
    first = sanity.randomized_copy(model, ["fc"], seed=1)
    again = sanity.randomized_copy(model, ["fc"], seed=1)
    assert not torch.equal(first.fc.weight, model.fc.weight)
    assert torch.equal(first.fc.weight, again.fc.weight)
    assert torch.equal(first.conv.weight, model.conv.weight)


def test_randomization_drops_for_gradients_and_not_for_a_model_blind_method() -> None:
    correlations = checks.randomization(make_case("IG"))
    assert correlations["whole network"] < sanity.RANDOMIZATION_MAX_SPEARMAN["whole network"]
    blind = MethodSpec("InputOnly", _InputOnly, {"quick": {}})
    blind_correlations = checks.randomization(make_case(blind))
    assert blind_correlations["whole network"] == pytest.approx(1.0)


class _InputOnly:
    """An 'explanation' that ignores the model: the input's magnitude (an edge-detector stand-in)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, target: int | None = None) -> torch.Tensor:
        return inputs.abs()


# --- determinism and target dependence -------------------------------------------------------

def test_determinism_paths() -> None:
    assert checks.is_deterministic(make_case("IG-SG"))
    unseeded = MethodSpec("Noisy", _Unseeded, {"quick": {}})
    assert not checks.is_deterministic(make_case(unseeded))


class _Unseeded:
    generator = torch.Generator().manual_seed(0)

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def attribute(self, inputs: torch.Tensor, target: int | None = None) -> torch.Tensor:
        return torch.rand(inputs.shape, generator=self.generator)


def test_target_dependence_paths() -> None:
    assert checks.target_dependence(make_case("IG")).relative_change >= sanity.TARGET_MIN_RELATIVE_CHANGE
    blind = MethodSpec("InputOnly", _InputOnly, {"quick": {}})
    assert checks.target_dependence(make_case(blind)).relative_change < sanity.TARGET_MIN_RELATIVE_CHANGE
