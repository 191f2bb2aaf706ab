"""Infidelity (Captum's, normalised, over random square removals): a map that puts the model's own
contributions where they are scores 0; a map unrelated to the model, or ranked in reverse, scores badly."""

from __future__ import annotations

import pytest
import torch

from xai_eval.measure.infidelity import infidelity, square_removals

SHAPE = (3, 12, 12)


class Contributions(torch.nn.Module):
    """Logit ``k`` is ``sum(w_k * x)``: the contribution of every input element is ``w_k * x``."""

    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weight = torch.nn.Parameter(torch.randn(2, *SHAPE, generator=generator), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.unsqueeze(1) * self.weight).flatten(2).sum(-1)


def _setup(n: int = 40, seed: int = 0):  # type: ignore[no-untyped-def]
    model = Contributions()
    inputs = torch.randn(1, *SHAPE, generator=torch.Generator().manual_seed(seed + 1)) + 1.0
    masks = square_removals(torch.Generator().manual_seed(seed + 2), n, SHAPE, 4).unsqueeze(0)
    faithful = model.weight[0:1] * inputs
    return model, inputs, masks, faithful


def _reversed_ranking(attribution: torch.Tensor) -> torch.Tensor:
    """The same values, the largest where the smallest was (every rank reversed)."""
    flat = attribution.flatten()
    order = flat.argsort()
    values = flat[order]
    reordered = torch.empty_like(flat)
    reordered[order] = values.flip(0)
    return reordered.reshape(attribution.shape)


def test_the_model_own_contributions_score_zero_unrelated_and_reversed_maps_score_badly() -> None:
    model, inputs, masks, faithful = _setup()
    unrelated = torch.randn(faithful.shape, generator=torch.Generator().manual_seed(9))
    scores = {name: float(infidelity(model, inputs, a, masks, target=0)[0])
              for name, a in (("faithful", faithful), ("unrelated", unrelated), ("reversed", _reversed_ranking(faithful)),
                              ("other class", model.weight[1:2] * inputs))}
    assert scores["faithful"] == pytest.approx(0.0, abs=1e-6)
    # The mean squared logit drop of a removal is about 120 here: an unrelated map (or the other class's
    # contributions) explains none of it; a reversed ranking keeps some of the map's shape but not enough.
    assert scores["unrelated"] > 60 and scores["other class"] > 60, scores
    assert scores["reversed"] > 5, scores


def test_the_scale_of_the_map_does_not_matter_its_sign_neither() -> None:
    """normalize=True fits the map's scale (Yeh et al.'s optimal scaling): a squared or variance map is
    compared like any other; the fitted factor may be negative, so a negated map scores like the map."""
    model, inputs, masks, faithful = _setup()
    noisy = faithful + 0.5 * torch.randn(faithful.shape, generator=torch.Generator().manual_seed(3))
    base = infidelity(model, inputs, noisy, masks, target=0)
    for factor in (1e-3, 7.0, -2.0):
        torch.testing.assert_close(infidelity(model, inputs, factor * noisy, masks, target=0), base, rtol=1e-4, atol=1e-8)


def test_served_outputs_give_what_the_model_gives_and_batch_sizes_move_nothing() -> None:
    model, inputs, masks, faithful = _setup()
    noisy = faithful + torch.randn(faithful.shape, generator=torch.Generator().manual_seed(4))
    computed = infidelity(model, inputs, noisy, masks, target=0, max_examples_per_batch=40)
    with torch.no_grad():
        outputs = model(inputs)
        perturbed = model(inputs * (1 - masks[0])).unsqueeze(0)
    calls: list[int] = []

    def counting(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[0])
        return model(x)

    for batch in (1, 7, 40):
        served = infidelity(counting, inputs, noisy, masks, target=0, max_examples_per_batch=batch,
                            outputs=outputs, perturbed_outputs=perturbed)
        torch.testing.assert_close(served, computed, rtol=1e-5, atol=1e-9)
    assert calls == []  # every output Captum asked for was served


def test_square_removals_are_squares_inside_the_image_drawn_from_the_generator() -> None:
    masks = square_removals(torch.Generator().manual_seed(0), 50, (3, 10, 14), 4)
    assert masks.shape == (50, 3, 10, 14)
    assert torch.all(masks.sum(dim=(1, 2, 3)) == 3 * 16)
    assert torch.equal(masks[:, 0], masks[:, 2])  # every channel of the square
    again = square_removals(torch.Generator().manual_seed(0), 50, (3, 10, 14), 4)
    assert torch.equal(masks, again)
    assert len({tuple(m.nonzero()[0].tolist()) for m in masks}) > 10
    with pytest.raises(ValueError, match="does not fit"):
        square_removals(torch.Generator().manual_seed(0), 1, (3, 10, 14), 11)


STANDIN = '''
import torch
from torch import nn

from xai_eval.models import ModelBundle
from xai_eval.models.bundle import imagenet_transform


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.relu1 = nn.Conv2d(3, 6, 3, padding=1), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.relu2(self.conv2(self.relu1(self.conv1(x))))), 1))


def build(image_size=64):
    """Not a measurement: a seeded tiny network at 64 pixels (Occlusion's 48-pixel window fits)."""
    torch.manual_seed(0)
    return ModelBundle(Net().eval(), imagenet_transform(64, (0.5,) * 3, (0.25,) * 3), "conv2")
'''


@pytest.mark.parametrize("method", ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop",
                                    "GuidedGradCAM"])
def test_every_builtin_method_gets_captums_own_infidelity(gate_project: pytest.Pytester, method: str) -> None:
    """The gate's infidelity of a case is Captum's, fed Captum's own decorated perturbation function with the same
    square removals: multiply_by_inputs as the method's map is (True for IG, GradientSHAP, LRP, Occlusion and
    NoiseTunnel over IG; False for Guided Backprop and Guided Grad-CAM, whose I is then x - x_I)."""
    import sys

    from captum.metrics import infidelity as captum_infidelity
    from captum.metrics import infidelity_perturb_func_decorator

    from xai_eval.config.settings import Settings
    from xai_eval.engine.session import XaiSession
    from xai_eval.measure.infidelity import square_removals

    gate_project.makepyfile(standin_infidelity=STANDIN)
    sys.path.insert(0, str(gate_project.path))
    settings = Settings(models=("standin_infidelity:build",), methods=(method,), images=gate_project.path / "images")
    session = XaiSession(settings)
    session.prepare(stores=False)
    case = session.run(session.case_keys()[0])
    expected_multiply = method not in ("GuidedBackprop", "GuidedGradCAM")
    assert case.explainer.multiplies_by_inputs is expected_multiply
    n, side = 16, 0.25
    value = case.infidelity(0, n_samples=n, square_side=side)

    shape = tuple(case.inputs.shape[1:])
    square = max(1, round(side * min(shape[1:])))
    masks = square_removals(case._photo_generator(0, "infidelity", n, square), n, shape, square)
    done = 0

    @infidelity_perturb_func_decorator(expected_multiply)
    def remove(inputs: torch.Tensor) -> torch.Tensor:
        nonlocal done
        chunk = masks[done : done + inputs.shape[0]]
        done += inputs.shape[0]
        return inputs * (1 - chunk)

    reference = captum_infidelity(case.explainer.model, remove, case.inputs, case.attribution(), target=case.target,
                                  n_perturb_samples=n, normalize=True)
    assert value == pytest.approx(float(reference[0]), rel=1e-5, abs=1e-9)
    # the other convention gives another number: the comparison can tell them apart
    other = infidelity(case.explainer.model, case.inputs, case.attribution(), masks.unsqueeze(0), target=case.target,
                       multiply_by_inputs=not expected_multiply)
    assert float(other[0]) != pytest.approx(value, rel=1e-3)
