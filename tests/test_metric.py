"""Properties of the max-sensitivity wrapper, on explanation functions that need no model."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_eval.measure.sensitivity import max_sensitivity

shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.integers(2, 6))
seeds = st.integers(0, 2**32)


def _inputs(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _nonlinear(batch: tuple[torch.Tensor, ...], **_: object) -> torch.Tensor:
    (x,) = batch
    return torch.tanh(3 * x) * x


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, value=st.floats(-5, 5))
def test_constant_explanation_has_zero_sensitivity(shape: tuple[int, ...], seed: int, value: float) -> None:
    inputs = _inputs(shape, seed)
    result = max_sensitivity(lambda b, **_: torch.full_like(b[0], value), inputs, seed=seed, n_perturb_samples=4)
    assert result.shape == (shape[0],)
    assert torch.all(result == 0)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, scale=st.floats(0.01, 100))
def test_scaling_the_explanation_leaves_the_value_unchanged(shape: tuple[int, ...], seed: int, scale: float) -> None:
    inputs = _inputs(shape, seed)
    base = max_sensitivity(_nonlinear, inputs, seed=seed, n_perturb_samples=4)
    scaled = max_sensitivity(lambda b, **k: scale * _nonlinear(b), inputs, seed=seed, n_perturb_samples=4)
    torch.testing.assert_close(scaled, base, rtol=1e-4, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=seeds, radius=st.floats(0.0, 1.0))
def test_value_is_never_negative_and_same_seed_is_bit_identical(shape: tuple[int, ...], seed: int, radius: float) -> None:
    inputs = _inputs(shape, seed)
    first = max_sensitivity(_nonlinear, inputs, seed=seed, perturb_radius=radius, n_perturb_samples=3)
    again = max_sensitivity(_nonlinear, inputs, seed=seed, perturb_radius=radius, n_perturb_samples=3)
    assert torch.all(first >= 0)
    assert torch.equal(first, again)


def test_identity_explanation_matches_the_definition() -> None:
    """For explain(x) = x, the value is max ||delta||_F / ||x||_F over the drawn perturbations."""
    inputs = torch.ones(1, 1, 2, 2)
    result = max_sensitivity(lambda b, **_: b[0], inputs, seed=0, perturb_radius=0.1, n_perturb_samples=5)
    # every |delta_i| <= 0.1 over 4 elements, so ||delta|| <= 0.2, and ||x|| = 2
    assert 0 < float(result) <= 0.1


def test_reused_original_explanation_is_not_recomputed() -> None:
    calls: list[int] = []

    def explain(batch: tuple[torch.Tensor, ...], **_: object) -> torch.Tensor:
        calls.append(batch[0].shape[0])
        return batch[0] * 2

    inputs = torch.randn(1, 3, 4, 4)
    reused = max_sensitivity(explain, inputs, seed=1, n_perturb_samples=3, original_explanation=inputs * 2)
    assert calls == [3]
    fresh = max_sensitivity(explain, inputs, seed=1, n_perturb_samples=3)
    assert torch.equal(reused, fresh)


def test_seeding_leaves_global_rng_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    max_sensitivity(_nonlinear, torch.randn(1, 1, 3, 3, generator=torch.Generator().manual_seed(0)), seed=5)
    assert torch.equal(torch.rand(3), expected)
