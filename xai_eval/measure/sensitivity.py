"""Max sensitivity, as defined by Captum's ``captum.metrics.sensitivity_max``.

A thin wrapper: Captum computes the metric; xai-eval hands it perturbations drawn beforehand from the
case's own stream (so they depend neither on ``max_examples_per_batch`` nor on the device) and lets an
already computed explanation of the unperturbed input be reused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

ExplanationFunc = Callable[..., torch.Tensor]


def uniform_perturbations(generator: torch.Generator, n_samples: int, shape: tuple[int, ...], radius: float) -> torch.Tensor:
    """``n_samples`` perturbations uniform in the L-infinity ball of ``radius`` (Captum's default
    distribution), drawn on the CPU from ``generator``: shape ``[n_samples, *shape]``, float64."""
    return (torch.rand((n_samples, *shape), generator=generator, dtype=torch.float64) * 2 - 1) * radius


def max_sensitivity(
    explain: ExplanationFunc,
    inputs: torch.Tensor,
    perturbations: torch.Tensor,
    *,
    max_examples_per_batch: int | None = None,
    original_explanation: torch.Tensor | None = None,
    **explain_kwargs: Any,
) -> torch.Tensor:
    """Per-example max sensitivity of ``explain`` at ``inputs`` (shape ``[N]``).

    ``perturbations`` has shape ``[N, n_samples, *inputs.shape[1:]]``: example ``i`` is explained at
    ``inputs[i] + perturbations[i, j]`` for every ``j``. The change is measured by the Frobenius norm
    relative to the norm of the original explanation and maximised over the samples (Captum's
    ``sensitivity_max``). ``original_explanation``, if given, is used for the unperturbed inputs instead
    of calling ``explain`` again. Extra keyword arguments (``target``) go to ``explain`` and are
    expanded by Captum for the perturbed batches.
    """
    from captum.metrics import sensitivity_max

    n, n_samples = perturbations.shape[:2]
    if n != inputs.shape[0] or tuple(perturbations.shape[2:]) != tuple(inputs.shape[1:]):
        raise ValueError(f"perturbations {tuple(perturbations.shape)} do not fit inputs {tuple(inputs.shape)}")
    moved = perturbations.to(device=inputs.device, dtype=inputs.dtype)
    done = 0

    def perturb(expanded: torch.Tensor) -> tuple[torch.Tensor]:
        # Captum asks for the samples in order, each example repeated `current` times (repeat_interleave).
        nonlocal done
        current = expanded.shape[0] // n
        chunk = moved[:, done : done + current].reshape(expanded.shape)
        done += current
        perturbed = expanded + chunk
        if inputs.dim() == 4 and inputs.is_contiguous(memory_format=torch.channels_last):
            perturbed = perturbed.contiguous(memory_format=torch.channels_last)  # keep the inputs' format
        return (perturbed,)  # a tuple, like the unperturbed inputs Captum hands to explain

    def explanation_func(batch: tuple[torch.Tensor, ...], **kwargs: Any) -> tuple[torch.Tensor, ...]:
        if original_explanation is not None and batch[0] is inputs:
            return (original_explanation.contiguous(),)
        return (explain(batch, **kwargs).contiguous(),)

    return sensitivity_max(
        explanation_func,
        inputs,
        perturb_func=perturb,
        n_perturb_samples=n_samples,
        max_examples_per_batch=max_examples_per_batch,
        **explain_kwargs,
    )
