"""Paired randomness: every explanation of a case shares its method draws, and no batch size moves a value.

On a tiny seeded model, for all eight built-in methods.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xai_eval.explain.explainer import Explainer
from xai_eval.explain.methods import METHODS, get_method
from xai_eval.explain.randomness import MethodDraws, generator
from xai_eval.config.profiles import BUILTIN_PROFILES
from xai_eval.measure.sensitivity import max_sensitivity, uniform_perturbations

ALL_METHODS = ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM"]
STOCHASTIC = ["IG-SG", "IG-VG", "GradientSHAP"]
BATCH_ARGUMENTS = {  # every batching argument of the built-in methods, set to an awkward size
    "IG": {"internal_batch_size": 5},
    "IG-SG": {"nt_samples_batch_size": 2, "internal_batch_size": 3},
    "IG-VG": {"nt_samples_batch_size": 1, "internal_batch_size": 7},
    "GradientSHAP": {"n_samples_batch_size": 3},
    "Occlusion": {"perturbations_per_eval": 5},
}


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.relu = nn.ReLU()
        self.block = nn.Sequential(nn.Conv2d(6, 6, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.block(self.relu(self.conv(x)))), 1))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return Tiny().eval()


def _explainer(method: str, model: nn.Module, seed: int = 3, **overrides: object) -> Explainer:
    spec = get_method(method)
    kwargs = BUILTIN_PROFILES["quick"].method_kwargs(spec)
    if method == "Occlusion":  # the quick window is larger than the tiny input
        kwargs |= {"sliding_window_shapes": (3, 4, 4), "strides": (3, 2, 2)}
    return Explainer(spec, model, "block", kwargs | overrides, MethodDraws(seed))


def _inputs(n: int = 1, seed: int = 7) -> torch.Tensor:
    return torch.randn(n, 3, 12, 12, generator=torch.Generator().manual_seed(seed))


def _sensitivity(
    explainer: Explainer, inputs: torch.Tensor, radius: float = 0.05, batch: int = 4, first: int = 0
) -> torch.Tensor:
    """Max sensitivity with each example's perturbations from its own stream (example ``first + i``)."""
    shape = tuple(inputs.shape[1:])
    perturbations = torch.stack([
        uniform_perturbations(generator(1, "perturbations", first + i), 6, shape, radius) for i in range(len(inputs))
    ])
    return max_sensitivity(explainer, inputs, perturbations, max_examples_per_batch=batch * inputs.shape[0], target=2)


def test_every_builtin_method_is_covered() -> None:
    assert set(ALL_METHODS) <= set(METHODS)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_zero_radius_gives_zero(method: str) -> None:
    value = _sensitivity(_explainer(method, _model()), _inputs(), radius=0.0)
    assert float(value) == 0.0  # examples are explained one at a time, so x + 0 is explained exactly as x


@pytest.mark.parametrize("method", ALL_METHODS)
def test_batch_size_arguments_move_no_value(method: str) -> None:
    model = _model()
    inputs = _inputs()
    reference = _sensitivity(_explainer(method, model), inputs, batch=6)
    rebatched = _sensitivity(_explainer(method, model, **BATCH_ARGUMENTS.get(method, {})), inputs, batch=1)
    torch.testing.assert_close(rebatched, reference, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_a_case_alone_or_in_a_batch_gives_the_same_numbers(method: str) -> None:
    model = _model()
    inputs = _inputs(3)
    explainer = _explainer(method, model)
    together = explainer(inputs, target=2)
    for i in range(3):
        torch.testing.assert_close(together[i : i + 1], explainer(inputs[i : i + 1], target=2), rtol=1e-5, atol=1e-7)
    batched = _sensitivity(explainer, inputs)
    for i in range(3):
        torch.testing.assert_close(batched[i : i + 1], _sensitivity(explainer, inputs[i : i + 1], first=i), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", STOCHASTIC)
def test_same_draws_same_explanation_other_seed_other_explanation(method: str) -> None:
    model = _model()
    inputs = _inputs()
    first = _explainer(method, model, seed=3)(inputs, target=2)
    assert torch.equal(first, _explainer(method, model, seed=3)(inputs, target=2))
    assert not torch.allclose(first, _explainer(method, model, seed=4)(inputs, target=2))


def test_draws_do_not_depend_on_request_order_or_touch_global_rngs() -> None:
    like = torch.zeros(1)
    torch.manual_seed(0)
    expected_global = torch.rand(2)
    torch.manual_seed(0)
    a = MethodDraws(9)
    noise_first = a.normal("noise", (4, 3), like)
    b = MethodDraws(9)
    b.uniform("alpha", (5,), like)
    assert torch.equal(b.normal("noise", (4, 3), like), noise_first)
    assert torch.equal(torch.rand(2), expected_global)
    strata = a.stratified("alpha", 8, like)
    assert sorted(int(v * 8) for v in strata) == list(range(8))


def test_draws_for_another_device_are_made_on_the_cpu_and_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every draw is made by a CPU generator, whatever the input's device, and then moved: so the numbers
    are the same on every device (torch's ``meta`` device stands in for a GPU here)."""
    made_on: list[str] = []
    for name in ("randn", "rand", "randint", "randperm"):
        draw = getattr(torch, name)

        def spy(*args: object, _draw=draw, **kwargs: object) -> torch.Tensor:
            made_on.append(f"{kwargs['generator'].device}/{torch.device(kwargs.get('device') or 'cpu')}")  # type: ignore[union-attr]
            return _draw(*args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    cpu, meta = torch.zeros(1, dtype=torch.float32), torch.zeros(1, dtype=torch.float16, device="meta")
    requests = {
        "normal": lambda draws, like: draws.normal("noise", (4, 3), like),
        "uniform": lambda draws, like: draws.uniform("alpha", (5,), like),
        "integers": lambda draws, like: draws.integers("pick", (6,), 10, like),
        "stratified": lambda draws, like: draws.stratified("points", 8, like),
    }
    for kind, request in requests.items():
        made_on.clear()
        draws = MethodDraws(9)
        moved = request(draws, meta)
        assert made_on and set(made_on) == {"cpu/cpu"}, (kind, made_on)
        assert moved.device.type == "meta" and moved.dtype == (torch.float16 if moved.is_floating_point() else torch.int64)
        assert torch.equal(request(draws, cpu), request(MethodDraws(9), cpu)), kind


def test_paired_noise_tunnel_matches_captum_for_the_same_noise() -> None:
    """With one noise sample of zero stdev the paired NoiseTunnel is IG itself (Captum's mathematics)."""
    from captum.attr import IntegratedGradients

    model = _model()
    inputs = _inputs()
    sg = _explainer("IG-SG", model, stdevs=0.0, nt_samples=2)(inputs, target=2)
    ig = IntegratedGradients(model).attribute(inputs, baselines=torch.zeros_like(inputs), target=2, n_steps=4)
    torch.testing.assert_close(sg, ig * ig, rtol=1e-5, atol=1e-8)
