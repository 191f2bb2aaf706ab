"""Sanity checks of one explanation, built on :mod:`xai_eval.measure.sanity`.

Each check takes an :class:`~xai_eval.explain.explainer.Explainer` and tensors, never a gate case.
Every explanation a check makes uses the explainer's own method draws (``Explainer.on`` keeps them),
so a difference it measures comes from the model or the target, not from the dice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from xai_eval.errors import NotApplicable
from xai_eval.explain.explainer import Explainer
from xai_eval.explain.randomness import MethodDraws
from xai_eval.measure.sanity import (
    COMPLETENESS_SAMPLES,
    bias_free_copy,
    cascade_stages,
    randomized_copy,
    relative_error,
    spearman,
)

COMPLETENESS_METHODS = ("IG", "GradientSHAP")


@dataclass(frozen=True)
class Completeness:
    """sum(A) against the output difference it should add up to; ``mean_delta`` is sum(A) minus it.

    IG: ``f(x) - f(b)``. A sampling method (GradientSHAP): the mean over its samples of
    ``f(x + e_i) - f(b_i)``, with ``n_samples`` samples whose interpolation points are on a midpoint grid.
    """

    relative_error: float
    mean_delta: float
    output_difference: float
    n_samples: int


def _target_output(model: torch.nn.Module, inputs: torch.Tensor, target: int) -> torch.Tensor:
    with torch.no_grad():
        return model(inputs)[:, target]


class MidpointDraws(MethodDraws):
    """A method's draws with every stratified draw on the midpoints of its strata, ``(i + 0.5) / n``: the
    same expectation as the random points, without their Monte-Carlo tail. Every other draw (noise,
    baselines) is the case's own."""

    def stratified(self, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
        return ((torch.arange(n, dtype=torch.float64) + 0.5) / n).to(device=like.device, dtype=like.dtype)


def completeness(
    explainer: Explainer, inputs: torch.Tensor, target: int, attribution: torch.Tensor | None = None, *,
    samples: int = COMPLETENESS_SAMPLES,
) -> Completeness:
    """How far the attributions miss the output difference they should add up to, relatively.

    For IG the delta is sum(A) - (f(x) - f(b)), Captum's formula; given the case's ``attribution`` it
    costs two forward passes instead of another explanation.

    A sampling method (``n_samples`` in its arguments, GradientSHAP) is completeness-preserving only in
    expectation over its interpolation points. Drawn at random, those points make the per-sample delta
    heavy-tailed (on EfficientNet-Lite0 the target logit rises steeply in a narrow stretch of the path from
    the zero baseline: most samples miss it, a few overshoot by 30 times ``f(x) - f(b)``), so no standard
    error from a CI-sized sample can be trusted, and a test of the mean delta raised false alarms at some
    seeds. The check therefore explains once with ``samples`` samples whose points are the midpoints of
    their strata (:class:`MidpointDraws`; its noise and baselines are the case's): a quadrature, like
    IG's, whose error is bounded by the same per-profile limit. The reference it is held to, the mean of
    ``f(x + e_i) - f(b_i)`` over those samples, comes from the model alone
    (:func:`_sampled_output_difference`), never from the method's output or its deltas. A missing
    ``(x - b)`` factor, attributions that sum to zero, rescaled ones or samples summed instead of
    averaged miss by far more.
    """
    model = explainer.model
    if "n_samples" not in explainer.kwargs:
        baselines = explainer.baselines(inputs)
        assert baselines is not None, f"{explainer.spec.name} has no baselines, so no completeness"
        difference = float(_target_output(model, inputs, target)[0]) - float(_target_output(model, baselines, target).mean())
        if attribution is None:
            _, delta = explainer.with_delta(inputs, target)
            value = float(delta.double().flatten()[0])
        else:
            value = float(attribution.double().sum()) - difference
        return Completeness(relative_error(difference + value, difference), value, difference, 1)
    grid = explainer.with_draws(MidpointDraws(explainer.draws.seed))
    attributions = grid(inputs, target=target, n_samples=samples, draw_name="completeness")
    difference = _sampled_output_difference(grid, inputs, target, samples, "completeness")
    value = float(attributions.double().sum()) - difference
    return Completeness(relative_error(difference + value, difference), value, difference, samples)


def _sampled_output_difference(explainer: Explainer, inputs: torch.Tensor, target: int, samples: int, draw_name: str) -> float:
    """``mean_i f(x + e_i) - mean_i f(b_i)`` over the samples a GradientSHAP explanation drew, computed from
    the model alone: the same input noise (the draws' ``{draw_name}/noise``, times ``stdevs``) and the same
    balanced baselines (sample ``i`` uses baseline ``i mod B``), never from the method's own output. So a
    method that rescales, sums or mixes its samples cannot move the reference it is held to."""
    baselines = explainer.baselines(inputs)
    assert baselines is not None, f"{explainer.spec.name} has no baselines, so no completeness"
    shape = tuple(inputs.shape[1:])
    stdevs = float(explainer.kwargs.get("stdevs", 0.0))
    noise = explainer.draws.normal(f"{draw_name}/noise", (samples, *shape), inputs) * stdevs
    index = torch.arange(samples, device=inputs.device) % baselines.shape[0]
    outputs = []
    for start in range(0, samples, 32):
        stop = min(start + 32, samples)
        outputs.append(_target_output(explainer.model, inputs[:1] + noise[start:stop], target).double())
    # sample i's baseline is one of the few distinct ones: each is evaluated once, not once per sample
    references = _target_output(explainer.model, baselines, target).double()[index]
    return float(torch.cat(outputs).mean() - references.mean())


@dataclass(frozen=True)
class Conservation:
    """LRP relevance against the target logit, bias-free (asserted) and with real weights (reported)."""

    bias_free_relative_error: float
    bias_free_relevance: float
    bias_free_logit: float
    retained_share: float


def lrp_conservation(explainer: Explainer, inputs: torch.Tensor, target: int, attribution: torch.Tensor) -> Conservation:
    """Sum of LRP relevance vs the logit on a bias-free copy, and the share kept with real biases."""
    model = explainer.model
    bias_free = bias_free_copy(model)
    relevance = explainer.on(bias_free)(inputs, target=target)
    logit = float(_target_output(bias_free, inputs, target)[0])
    real_logit = float(_target_output(model, inputs, target)[0])
    real_share = float(attribution.sum()) / real_logit if real_logit else math.nan
    return Conservation(relative_error(relevance.sum(), logit), float(relevance.sum()), logit, real_share)


@dataclass(frozen=True)
class Randomization:
    """Spearman correlation per cascade stage, and the stages whose randomised explanation is constant."""

    correlations: dict[str, float]
    constant_stages: tuple[str, ...]


def randomization(
    explainer: Explainer, inputs: torch.Tensor, target: int, attribution: torch.Tensor, last_block: str, seed: int
) -> Randomization:
    """Spearman correlation with the original attribution after each cascade stage (Adebayo et al. 2018).

    A stage whose randomised explanation is constant, while the original is not, gets NaN and is listed
    in ``constant_stages`` (it changed completely); a stage that could not be explained, or any stage of
    a constant original, gets NaN and is not listed.
    """
    from xai_eval.explain.randomness import derive_seed

    model = explainer.model
    correlations: dict[str, float] = {}
    constant: list[str] = []
    original_constant = _is_constant(attribution)
    for stage, paths in cascade_stages(model, last_block):
        randomized = randomized_copy(model, paths, derive_seed(seed, "randomize", stage))
        try:
            explanation = explainer.on(randomized)(inputs, target=target)
        except NotApplicable:
            correlations[stage] = math.nan
            continue
        correlations[stage] = spearman(attribution, explanation)
        if _is_constant(explanation) and not original_constant:
            constant.append(stage)
    return Randomization(correlations, tuple(constant))


def _is_constant(attribution: torch.Tensor) -> bool:
    """Whether the absolute, channel-summed map (what :func:`spearman` ranks) has one value only."""
    saliency = attribution.abs().sum(dim=-3)
    return bool((saliency == saliency.flatten()[0]).all())


def is_deterministic(explainer: Explainer, inputs: torch.Tensor, target: int, attribution: torch.Tensor) -> bool:
    """A fresh explainer -- fresh model adaptation and freshly made draws from the same seed --
    reproduces the attribution bit for bit."""
    from xai_eval.explain.randomness import MethodDraws

    fresh = explainer.on(explainer.model).with_draws(MethodDraws(explainer.draws.seed))
    return torch.equal(fresh(inputs, target=target), attribution)


@dataclass(frozen=True)
class TargetDependence:
    other_target: int
    relative_change: float


def target_dependence(explainer: Explainer, inputs: torch.Tensor, target: int, attribution: torch.Tensor) -> TargetDependence:
    """Relative L2 change of the explanation when the target is the model's runner-up class.

    Both explanations share the method draws, so a method that ignores the target scores ~0 even
    when it is stochastic.
    """
    with torch.no_grad():
        logits = explainer.model(inputs)[0].clone()
    logits[target] = -math.inf
    other = int(logits.argmax())
    changed = explainer(inputs, target=other)
    return TargetDependence(other, float((attribution - changed).norm() / attribution.norm()))


def as_record(result: Completeness | Conservation | TargetDependence) -> dict[str, object]:
    """A check result as keyword arguments for ``xai_record``."""
    return asdict(result)
