"""Average sensitivity and relative input/output stability (RIS, ROS): from the perturbed explanations max
sensitivity computes, each scoring a map that jumps under a tiny perturbation badly and a steady one well."""

from __future__ import annotations

import math

import pytest
import torch

from xai_eval.measure.sensitivity import sensitivity, uniform_perturbations
from xai_eval.measure.stability import CHANGE_FLOOR, relative_change, relative_stability

RADIUS = 0.02


def _inputs(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) + 2.0


def _perturbations(inputs: torch.Tensor, n: int = 10, radius: float = RADIUS, seed: int = 1) -> torch.Tensor:
    return uniform_perturbations(torch.Generator().manual_seed(seed), n, tuple(inputs.shape[1:]), radius).unsqueeze(0)


def jumpy(batch: tuple[torch.Tensor, ...], **_: object) -> torch.Tensor:
    """A map that flips its signs under any change of the input in the 6th decimal."""
    (x,) = batch
    return torch.sign(torch.sin(1e6 * x))


def steady(batch: tuple[torch.Tensor, ...], **_: object) -> torch.Tensor:
    """x itself: it changes exactly as much as the input does."""
    (x,) = batch
    return x.clone()


def _stability(explain, inputs: torch.Tensor, perturbations: torch.Tensor):  # type: ignore[no-untyped-def]
    return sensitivity(explain, inputs, perturbations, max_examples_per_batch=3)


def test_average_sensitivity_is_the_mean_of_the_ratios_whose_maximum_captum_reports() -> None:
    inputs = _inputs()
    perturbations = _perturbations(inputs)
    result = _stability(steady, inputs, perturbations)
    assert result.ratios.shape == (1, 10) and not torch.isnan(result.ratios).any()
    assert torch.equal(result.ratios.max(dim=1).values, result.max)  # the very ratios Captum maximised
    assert float(result.mean[0]) == pytest.approx(float(result.ratios[0].mean()))
    assert float(result.mean[0]) <= float(result.max[0])


def test_average_sensitivity_fails_a_jumpy_map_and_passes_a_steady_one() -> None:
    inputs = _inputs()
    perturbations = _perturbations(inputs)
    bad = float(_stability(jumpy, inputs, perturbations).mean[0])
    good = float(_stability(steady, inputs, perturbations).mean[0])
    assert bad > 1.0  # random signs: ||a - b|| / ||a|| is about sqrt(2)
    assert good < 0.02  # the map moves like the input: |d| <= 0.02 against |x| of about 2


def test_average_sensitivity_ignores_batch_sizes() -> None:
    inputs = torch.cat([_inputs(0), _inputs(1)])
    perturbations = torch.cat([_perturbations(inputs[:1], seed=1), _perturbations(inputs[:1], seed=2)])
    explain = lambda b, **_: torch.tanh(3 * b[0]) * b[0]  # noqa: E731
    whole = sensitivity(explain, inputs, perturbations, max_examples_per_batch=20)
    for batch in (2, 3, 7):
        chunked = sensitivity(explain, inputs, perturbations, max_examples_per_batch=batch)
        torch.testing.assert_close(chunked.ratios, whole.ratios, rtol=1e-6, atol=0)
    alone = sensitivity(explain, inputs[1:], perturbations[1:], max_examples_per_batch=3)
    torch.testing.assert_close(alone.ratios, whole.ratios[1:], rtol=1e-6, atol=0)


def _ris(explain, inputs: torch.Tensor, perturbations: torch.Tensor):  # type: ignore[no-untyped-def]
    ratios = _stability(explain, inputs, perturbations).ratios[0]
    change = relative_change(inputs[0], inputs + perturbations[0].to(inputs.dtype))
    return relative_stability(ratios, change, torch.ones(ratios.shape[0], dtype=torch.bool))


def test_relative_input_stability_fails_a_jumpy_map_and_passes_a_steady_one() -> None:
    inputs = _inputs()
    perturbations = _perturbations(inputs)
    bad = _ris(jumpy, inputs, perturbations)
    good = _ris(steady, inputs, perturbations)
    assert bad.value > 50  # about sqrt(2) / 0.005
    assert good.value == pytest.approx(1.0, rel=1e-5)  # the map changes exactly as much as the input
    assert (good.kept, good.prediction_changes, good.floored) == (10, 0, 0)


class Linear(torch.nn.Module):
    def __init__(self, classes: int = 4, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = torch.nn.Linear(3 * 8 * 8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def _ros(explain, model: torch.nn.Module, inputs: torch.Tensor, perturbations: torch.Tensor):  # type: ignore[no-untyped-def]
    ratios = _stability(explain, inputs, perturbations).ratios[0]
    with torch.no_grad():
        logits = model(inputs)
        perturbed = model(inputs + perturbations[0].to(inputs.dtype))
    same = perturbed.argmax(1) == logits.argmax(1)
    return relative_stability(ratios, relative_change(logits[0], perturbed), same)


def test_relative_output_stability_fails_a_jumpy_map_and_passes_the_gradient_of_a_linear_model() -> None:
    model = Linear()
    inputs = _inputs()
    perturbations = _perturbations(inputs)
    gradient = lambda b, **_: model.fc.weight[0].detach().reshape(1, 3, 8, 8).expand_as(b[0]).clone()  # noqa: E731
    bad = _ros(jumpy, model, inputs, perturbations)
    good = _ros(gradient, model, inputs, perturbations)
    assert bad.value > 10 and bad.kept == 10
    assert good.value == 0.0  # a linear model's gradient does not move at all


def test_perturbations_that_change_the_prediction_are_left_out_and_counted() -> None:
    change = torch.tensor([0.1, 0.9, 0.2, 5.0], dtype=torch.float64)
    reference = torch.full((4,), 0.01, dtype=torch.float64)
    same = torch.tensor([True, False, True, False])
    result = relative_stability(change, reference, same)
    assert (result.kept, result.prediction_changes) == (2, 2)
    assert result.value == pytest.approx(20.0)  # 0.2 / 0.01: the flipped ones (0.9, 5.0) are not divided by
    none = relative_stability(change, reference, torch.zeros(4, dtype=torch.bool))
    assert math.isnan(none.value) and (none.kept, none.prediction_changes) == (0, 4)


def test_a_reference_change_below_the_floor_divides_by_the_floor() -> None:
    change = torch.tensor([1e-6, 1e-3], dtype=torch.float64)
    reference = torch.tensor([0.0, 1e-9], dtype=torch.float64)
    result = relative_stability(change, reference, torch.ones(2, dtype=torch.bool))
    assert result.value == pytest.approx(1e-3 / CHANGE_FLOOR) and result.floored == 2
    assert math.isfinite(result.value)


def test_zero_radius_gives_zero_for_every_stability_number() -> None:
    inputs = _inputs()
    perturbations = _perturbations(inputs, radius=0.0)
    result = _stability(jumpy, inputs, perturbations)
    assert float(result.mean[0]) == 0.0
    assert _ris(jumpy, inputs, perturbations).value == 0.0


def test_relative_change_is_scale_free_and_guards_a_zero_reference() -> None:
    before = torch.tensor([3.0, 4.0])
    after = torch.tensor([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
    assert relative_change(before, after).tolist() == [0.0, 1.0, 1.0]
    assert relative_change(10 * before, 10 * after).tolist() == [0.0, 1.0, 1.0]
    assert relative_change(torch.zeros(2), after[:2]).tolist() == [5.0, 0.0]
