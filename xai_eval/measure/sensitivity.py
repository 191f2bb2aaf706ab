"""Max sensitivity, as defined by Captum's ``captum.metrics.sensitivity_max``.

This is a thin wrapper: it seeds Captum's perturbation sampling and lets an
already computed explanation of the unperturbed input be reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from xai_eval.explain.randomness import seeded

ExplanationFunc = Callable[..., torch.Tensor]


def max_sensitivity(
    explain: ExplanationFunc,
    inputs: torch.Tensor,
    *,
    seed: int,
    n_perturb_samples: int = 10,
    perturb_radius: float = 0.02,
    max_examples_per_batch: int | None = None,
    original_explanation: torch.Tensor | None = None,
    **explain_kwargs: Any,
) -> torch.Tensor:
    """Per-example max sensitivity of ``explain`` at ``inputs`` (shape ``[N]``).

    Perturbations are drawn uniformly from the L-infinity ball of radius
    ``perturb_radius`` (Captum's default perturbation), the change is measured
    by the Frobenius norm relative to the norm of the original explanation, and
    the maximum over ``n_perturb_samples`` samples is returned. The draw is
    seeded with ``seed`` and does not disturb torch's global RNG state.

    ``original_explanation``, if given, is returned for the unperturbed inputs
    instead of calling ``explain`` again. Extra keyword arguments (``target``)
    go to ``explain`` and are expanded by Captum for the perturbed batch.
    """
    from captum.metrics import sensitivity_max

    def explanation_func(batch: tuple[torch.Tensor, ...], **kwargs: Any) -> tuple[torch.Tensor, ...]:
        if original_explanation is not None and batch[0] is inputs:
            return (original_explanation,)
        return (explain(batch, **kwargs),)

    with seeded(seed):
        return sensitivity_max(
            explanation_func,
            inputs,
            perturb_radius=perturb_radius,
            n_perturb_samples=n_perturb_samples,
            max_examples_per_batch=max_examples_per_batch,
            **explain_kwargs,
        )
