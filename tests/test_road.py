"""ROAD (noisy linear imputation, MoRF and LeRF, the gap): the imputation is the paper's, one sparse solve
per fraction; a map of where the model looks scores a clear positive gap, the same map ranked in reverse
its negative, and a map unrelated to the model about nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xai_eval.measure import road as road_module
from xai_eval.measure.road import impute, impute_iterative, removal_masks, removal_order, road
from xai_eval.records.floors import ROAD_ATOL

FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)


def test_one_removed_pixel_is_the_weighted_mean_of_its_eight_neighbours() -> None:
    image = np.random.default_rng(0).normal(size=(2, 5, 5))
    removed = np.zeros(25, dtype=bool)
    removed[2 * 5 + 2] = True
    (filled,) = impute(image, [removed], np.zeros_like(image))
    window = image[:, 1:4, 1:4]
    weights = np.array([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]])
    np.testing.assert_allclose(filled[:, 2, 2], (window * weights).sum(axis=(1, 2)), rtol=1e-12)
    kept = ~removed.reshape(5, 5)
    np.testing.assert_array_equal(filled[:, kept], image[:, kept])


def test_an_affine_image_is_imputed_exactly_and_noise_lands_only_on_removed_pixels() -> None:
    rows, columns = np.mgrid[0:20, 0:20]
    image = np.stack([0.3 * rows - 0.2 * columns + 1, 0.1 * columns]).astype(np.float64)
    removed = np.zeros((20, 20), dtype=bool)
    removed[4:15, 6:13] = True  # a blob away from the border: linear imputation reproduces an affine image
    (filled,) = impute(image, [removed.reshape(-1)], np.zeros_like(image))
    np.testing.assert_allclose(filled, image, atol=1e-10)
    noise = np.random.default_rng(1).normal(size=image.shape)
    (noisy,) = impute(image, [removed.reshape(-1)], noise)
    np.testing.assert_allclose(noisy[:, removed], image[:, removed] + noise[:, removed], atol=1e-10)
    np.testing.assert_array_equal(noisy[:, ~removed], image[:, ~removed])


def test_a_fraction_is_one_sparse_solve_and_gives_what_separate_solves_give(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.sparse.linalg

    image = np.random.default_rng(2).normal(size=(3, 16, 16))
    order = removal_order(torch.from_numpy(np.random.default_rng(3).normal(size=(3, 16, 16))), torch.zeros(16, 16))
    masks = removal_masks(order, 0.6)
    separate = [impute(image, [mask], np.zeros_like(image))[0] for mask in masks]
    calls = []
    solve = scipy.sparse.linalg.spsolve
    monkeypatch.setattr(scipy.sparse.linalg, "spsolve", lambda *a, **k: calls.append(1) or solve(*a, **k))
    together = impute(image, list(masks), np.zeros_like(image))
    assert len(calls) == 1
    for one, other in zip(together, separate):
        np.testing.assert_allclose(one, other, atol=1e-12)


def test_masks_remove_the_fraction_from_the_right_end_of_the_ranking() -> None:
    attribution = torch.arange(16, dtype=torch.float64).reshape(1, 4, 4)
    order = removal_order(attribution, torch.zeros(4, 4))
    assert order[:3].tolist() == [15, 14, 13]  # most relevant first
    morf, lerf = removal_masks(order, 0.25)
    assert np.flatnonzero(morf).tolist() == [12, 13, 14, 15]
    assert np.flatnonzero(lerf).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        removal_masks(order, 1.0)


def test_ties_are_broken_by_the_given_noise_not_by_position() -> None:
    flat = torch.zeros(1, 6, 6)
    ties = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    order = removal_order(flat, ties)
    assert order.tolist() == np.argsort(-ties.reshape(-1).numpy(), kind="stable").tolist()


class LooksAtASquare(torch.nn.Module):
    """Two classes; class 0's logit is the mean brightness of a square the model looks at."""

    def __init__(self, where: tuple[slice, slice]) -> None:
        super().__init__()
        self.where = where

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        evidence = x[:, :, self.where[0], self.where[1]].mean(dim=(1, 2, 3))
        return torch.stack([4 * evidence, torch.zeros_like(evidence)], dim=1)


def _probabilities(model: torch.nn.Module):  # type: ignore[no-untyped-def]
    def probabilities(batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(model(batch), dim=1)[:, 0]

    return probabilities


def _scene():  # type: ignore[no-untyped-def]
    where = (slice(6, 14), slice(8, 16))
    image = torch.zeros(3, 24, 24, dtype=torch.float64)
    image[:, where[0], where[1]] = 1.5  # the object: bright, on a dark background
    image += 0.05 * torch.randn(image.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = LooksAtASquare(where)
    faithful = torch.zeros_like(image)
    faithful[:, where[0], where[1]] = image[:, where[0], where[1]]  # what the model looks at, and how bright
    noise = 0.01 * torch.randn(image.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ties = torch.randn(24, 24, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    return model, image, faithful, noise, ties


def test_road_gap_is_positive_for_the_map_of_what_the_model_uses_negative_in_reverse_and_near_zero_unrelated() -> None:
    model, image, faithful, noise, ties = _scene()
    probabilities = _probabilities(model)
    good = road(probabilities, image, faithful, FRACTIONS, noise, ties)
    reverse = road(probabilities, image, -faithful, FRACTIONS, noise, ties)
    unrelated = road(probabilities, image, torch.randn(image.shape, generator=torch.Generator().manual_seed(5),
                                                          dtype=torch.float64), FRACTIONS, noise, ties)
    assert good.gap > 0.3, good
    assert good.morf[1] < 0.6 < 0.95 < min(good.lerf)  # MoRF has removed the object by 30 %, LeRF never does
    assert reverse.gap == pytest.approx(-good.gap, abs=0.02), reverse  # MoRF and LeRF swap
    assert abs(unrelated.gap) < 0.05, unrelated
    assert good.fractions == FRACTIONS and len(good.morf) == len(good.lerf) == len(FRACTIONS)


def test_road_is_reproducible_and_its_noise_is_what_the_caller_gives() -> None:
    model, image, faithful, noise, ties = _scene()
    probabilities = _probabilities(model)
    first = road(probabilities, image, faithful, FRACTIONS, noise, ties)
    assert road(probabilities, image, faithful, FRACTIONS, noise, ties) == first
    louder = road(probabilities, image, faithful, FRACTIONS, 10 * noise, ties)
    assert louder != first


def test_road_checks_shapes() -> None:
    model, image, faithful, noise, ties = _scene()
    with pytest.raises(ValueError, match="shaped like the image"):
        road(_probabilities(model), image, faithful[:, :10], FRACTIONS, noise, ties)
    assert road_module.NEIGHBOURS and sum(w for _, w in road_module.NEIGHBOURS) == pytest.approx(1.0)


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                   reason="needs a CUDA GPU: run tests/test_road.py on a machine with one")),
]


@pytest.mark.parametrize("device", DEVICES)
def test_the_iterative_solve_on_the_device_equals_the_direct_solve(device: str) -> None:
    """Every mask of a case, both orders, at fractions up to 0.9 of a 64 x 64 photo-like image (smooth
    attribution, so the removed sets are large connected regions: the slowest case for CG)."""
    generator = torch.Generator().manual_seed(4)
    image = torch.nn.functional.avg_pool2d(torch.randn(1, 3, 64, 64, generator=generator, dtype=torch.float64), 5, 1, 2)[0]
    attribution = torch.nn.functional.avg_pool2d(torch.randn(1, 3, 64, 64, generator=generator), 9, 1, 4)[0]
    noise = 0.05 * torch.randn(3, 64, 64, generator=generator, dtype=torch.float64)
    order = removal_order(attribution, torch.randn(64, 64, generator=generator, dtype=torch.float64))
    masks = [mask for fraction in (0.1, 0.5, 0.9) for mask in removal_masks(order, fraction)]
    direct = np.stack(impute(image.numpy(), masks, noise.numpy()))
    iterative = impute_iterative(image.to(device), torch.from_numpy(np.stack(masks)).to(device), noise.to(device))
    assert iterative.device.type == device and iterative.dtype == torch.float64
    np.testing.assert_allclose(iterative.cpu().numpy(), direct, rtol=0, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_road_with_the_iterative_solve_gives_the_direct_solves_curves_within_the_floor(device: str) -> None:
    model, image, faithful, noise, ties = _scene()
    probabilities = _probabilities(model.to(device))
    direct = road(probabilities, image.to(device), faithful.to(device), FRACTIONS, noise, ties, solver="direct")
    iterative = road(probabilities, image.to(device), faithful.to(device), FRACTIONS, noise, ties, solver="iterative")
    assert abs(iterative.gap - direct.gap) <= ROAD_ATOL / 100
    np.testing.assert_allclose(iterative.morf + iterative.lerf, direct.morf + direct.lerf, atol=1e-6)
    if device == "cuda":  # "auto" picks the solve on the device
        assert road(probabilities, image.to(device), faithful.to(device), FRACTIONS, noise, ties) == iterative


def test_the_iterative_solve_is_not_a_copy_of_the_image() -> None:
    """The comparison above could pass if both returned the input: a removed pixel must change."""
    image = torch.zeros(1, 9, 9, dtype=torch.float64)
    image[0, :, :4] = 1.0
    removed = torch.zeros(1, 81, dtype=torch.bool)
    removed[0, 4 * 9 + 4] = True  # the centre, between a bright left and a dark right
    filled = impute_iterative(image, removed, torch.zeros_like(image))
    assert 0.0 < float(filled[0, 0, 4, 4]) < 1.0
    assert torch.equal(filled[0].reshape(1, -1)[:, ~removed[0]], image.reshape(1, -1)[:, ~removed[0]])
    with pytest.raises(ValueError, match="solver"):
        road(lambda b: b.sum(dim=(1, 2, 3)), image, image, (0.5,), image, torch.zeros(9, 9), solver="cg")


@pytest.mark.parametrize(("solver", "on", "expected"), [("iterative", "cpu", "iterative"), ("direct", "cpu", "direct"),
                                                        ("auto", "cpu", "direct"), ("auto", "meta", "iterative")])
def test_the_solver_is_the_one_asked_for_and_auto_follows_the_device(
    solver: str, on: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which solve ran (the comparisons above would pass if every call took the direct one). An image on
    torch's ``meta`` device stands in for a GPU's: any device but the CPU."""
    model, image, faithful, noise, ties = _scene()
    called = []
    monkeypatch.setattr(road_module, "impute", lambda *a, **k: called.append("direct") or impute(*a, **k))

    def iterative(image: torch.Tensor, masks: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
        called.append(("iterative", image.device.type, masks.device.type))
        return torch.zeros(masks.shape[0], *image.shape, dtype=torch.float64)  # the values are not what is tested

    monkeypatch.setattr(road_module, "impute_iterative", iterative)
    road(_probabilities(model), image.to(on), faithful, (0.5,), noise, ties, solver=solver)
    assert called and all((c if isinstance(c, str) else c[0]) == expected for c in called), called
    if expected == "iterative":
        assert called == [("iterative", on, on)]  # one solve of every mask, on the image's device
