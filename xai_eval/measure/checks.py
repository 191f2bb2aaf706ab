"""Sanity checks of one case, built on :mod:`xai_eval.measure.sanity`.

Every check reuses the case's cached attribution where it can and seeds its own
random draws from the case identity, like the rest of the gate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from xai_eval.gate.cases import CaseRun
from xai_eval.errors import NotApplicable
from xai_eval.explain.explainer import Explainer
from xai_eval.measure.sanity import COMPLETENESS_MIN_SAMPLES, bias_free_copy, cascade_stages, randomized_copy, relative_error, spearman
from xai_eval.explain.randomness import seeded

COMPLETENESS_METHODS = ("IG", "GradientSHAP")


def explain_with(case: CaseRun, model: torch.nn.Module, *, target: int | None = None, purpose: str = "attribution") -> torch.Tensor:
    """The case's method on another model (or for another target), seeded like the case."""
    explainer = Explainer(case.explainer.spec, model, case.explainer.gradcam_layer, case.profile.name)
    with seeded(case.seed(purpose)):
        return explainer(case.inputs, target=case.target if target is None else target)


@dataclass(frozen=True)
class Completeness:
    """sum(A) against f(x) - f(baseline), from Captum's convergence delta."""

    relative_error: float
    mean_delta: float
    output_difference: float
    standard_error: float
    n_deltas: int


def completeness(case: CaseRun) -> Completeness:
    """Captum's convergence delta relative to f(x) - E[f(baseline)].

    Sampling methods (GradientSHAP) are run until at least ``COMPLETENESS_MIN_SAMPLES`` samples are
    drawn, in calls of the profile's size (small batches are faster on CPU): completeness is a
    property of their expectation, not of one small estimate.
    """
    model = case.explainer.model
    per_call = int(case.explainer.kwargs.get("n_samples", 1))
    calls = max(1, -(-COMPLETENESS_MIN_SAMPLES // per_call)) if "n_samples" in case.explainer.kwargs else 1
    with torch.no_grad():
        output = float(model(case.inputs)[0, case.target])
    deltas: list[torch.Tensor] = []
    baseline_outputs: list[float] = []
    with seeded(case.seed("completeness")):
        for _ in range(calls):
            _, delta, baselines = case.explainer.with_delta(case.inputs, case.target)
            assert baselines is not None
            with torch.no_grad():
                baseline_outputs.append(float(model(baselines)[:, case.target].mean()))
            deltas.append(delta.double().flatten())
    all_deltas = torch.cat(deltas)
    mean_delta = float(all_deltas.mean())
    difference = output - sum(baseline_outputs) / len(baseline_outputs)
    n = all_deltas.numel()
    standard_error = float(all_deltas.std() / n**0.5) if n > 1 else math.nan
    return Completeness(relative_error(difference + mean_delta, difference), mean_delta, difference, standard_error, n)


@dataclass(frozen=True)
class Conservation:
    """LRP relevance against the target logit, bias-free (asserted) and with real weights (reported)."""

    bias_free_relative_error: float
    bias_free_relevance: float
    bias_free_logit: float
    retained_share: float


def lrp_conservation(case: CaseRun) -> Conservation:
    """Sum of LRP relevance vs the logit on a bias-free copy, and the share kept with real biases."""
    model = case.explainer.model
    bias_free = bias_free_copy(model)
    relevance = explain_with(case, bias_free, purpose="conservation")
    with torch.no_grad():
        logit = float(bias_free(case.inputs)[0, case.target])
        real_logit = float(model(case.inputs)[0, case.target])
    real_share = float(case.attribution().sum()) / real_logit if real_logit else math.nan
    return Conservation(relative_error(relevance.sum(), logit), float(relevance.sum()), logit, real_share)


def randomization(case: CaseRun) -> dict[str, float]:
    """Spearman correlation with the original attribution after each cascade stage (Adebayo et al. 2018)."""
    model = case.explainer.model
    original = case.attribution()
    correlations: dict[str, float] = {}
    for stage, paths in cascade_stages(model, case.last_block):
        randomized = randomized_copy(model, paths, case.seed(f"randomize/{stage}"))
        try:
            correlations[stage] = spearman(original, explain_with(case, randomized))
        except NotApplicable:
            correlations[stage] = math.nan
    return correlations


def is_deterministic(case: CaseRun) -> bool:
    """A fresh explainer (fresh model adaptation too) reproduces the cached attribution bit for bit."""
    return torch.equal(explain_with(case, case.explainer.model), case.attribution())


@dataclass(frozen=True)
class TargetDependence:
    other_target: int
    relative_change: float


def target_dependence(case: CaseRun) -> TargetDependence:
    """Relative L2 change of the explanation when the target is the model's runner-up class."""
    with torch.no_grad():
        logits = case.explainer.model(case.inputs)[0].clone()
    logits[case.target] = -math.inf
    other = int(logits.argmax())
    original = case.attribution()
    changed = explain_with(case, case.explainer.model, target=other, purpose="other-target")
    return TargetDependence(other, float((original - changed).norm() / original.norm()))


def as_record(result: Completeness | Conservation | TargetDependence) -> dict[str, object]:
    """A check result as keyword arguments for ``xai_record``."""
    return asdict(result)
