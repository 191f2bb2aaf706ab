"""Properties of the max-sensitivity wrapper, on explanation functions that need no model."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xai_eval.measure.sensitivity import max_sensitivity as _max_sensitivity
from xai_eval.measure.sensitivity import uniform_perturbations

shapes = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 6), st.integers(2, 6))
seeds = st.integers(0, 2**32)


def _inputs(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def max_sensitivity(explain, inputs, *, seed=0, n_perturb_samples=10, perturb_radius=0.02, **kwargs):  # type: ignore[no-untyped-def]
    """The wrapper with perturbations drawn from a seeded generator, one set per example."""
    gen = torch.Generator().manual_seed(seed)
    perturbations = torch.stack([
        uniform_perturbations(gen, n_perturb_samples, tuple(inputs.shape[1:]), perturb_radius) for _ in range(inputs.shape[0])
    ])
    return _max_sensitivity(explain, inputs, perturbations, **kwargs)


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


def test_drawing_perturbations_leaves_global_rng_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    max_sensitivity(_nonlinear, torch.randn(1, 1, 3, 3, generator=torch.Generator().manual_seed(0)), seed=5)
    assert torch.equal(torch.rand(3), expected)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=seeds, batch=st.integers(1, 12))
def test_max_examples_per_batch_changes_no_value(shape: tuple[int, ...], seed: int, batch: int) -> None:
    """The perturbations are drawn before batching, so the batch size only changes how they are grouped."""
    inputs = _inputs(shape, seed)
    batch = max(batch, shape[0])
    whole = max_sensitivity(_nonlinear, inputs, seed=seed, n_perturb_samples=5)
    chunked = max_sensitivity(_nonlinear, inputs, seed=seed, n_perturb_samples=5, max_examples_per_batch=batch)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-7)


def test_zero_radius_gives_zero() -> None:
    inputs = _inputs((2, 3, 4, 4), 0)
    assert torch.all(max_sensitivity(_nonlinear, inputs, perturb_radius=0.0) == 0)


def test_each_example_gets_its_own_perturbations() -> None:
    """Two examples explained together score exactly what each scores alone with its perturbations."""
    inputs = _inputs((2, 3, 4, 4), 1)
    gen = torch.Generator().manual_seed(3)
    perturbations = torch.stack([uniform_perturbations(gen, 4, (3, 4, 4), 0.1) for _ in range(2)])
    together = _max_sensitivity(_nonlinear, inputs, perturbations, max_examples_per_batch=4)
    for i in range(2):
        alone = _max_sensitivity(_nonlinear, inputs[i : i + 1], perturbations[i : i + 1])
        torch.testing.assert_close(together[i : i + 1], alone, rtol=1e-6, atol=0)
