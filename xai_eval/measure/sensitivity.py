"""Max and average sensitivity, from Captum's ``captum.metrics.sensitivity_max``.

A thin wrapper: Captum computes max sensitivity; xai-eval hands it perturbations drawn beforehand from the
case's own stream (so they depend neither on ``max_examples_per_batch`` nor on the device), lets an
already computed explanation of the unperturbed input be reused, and keeps every ratio Captum maximises
(the relative change of the explanation under each perturbation), so that average sensitivity and relative
stability (:mod:`xai_eval.measure.stability`) come from the same perturbed explanations, with no extra one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

ExplanationFunc = Callable[..., torch.Tensor]


def uniform_perturbations(generator: torch.Generator, n_samples: int, shape: tuple[int, ...], radius: float) -> torch.Tensor:
    """``n_samples`` perturbations uniform in the L-infinity ball of ``radius`` (Captum's default
    distribution), drawn on the CPU from ``generator``: shape ``[n_samples, *shape]``, float64."""
    return (torch.rand((n_samples, *shape), generator=generator, dtype=torch.float64) * 2 - 1) * radius


@dataclass(frozen=True)
class Sensitivity:
    """What explaining the perturbed inputs gave."""

    max: torch.Tensor
    """Captum's max sensitivity, per example (shape ``[N]``)."""
    ratios: torch.Tensor
    """``||A(x + d_j) - A(x)||_F / ||A(x)||_F`` per example and perturbation (``[N, n_samples]``): the ratios whose
    maximum ``max`` is, computed as Captum computes them (a zero-norm explanation divides by 1)."""

    @property
    def mean(self) -> torch.Tensor:
        """Average sensitivity: the mean of the same ratios, per example (``[N]``)."""
        return self.ratios.mean(dim=1)


def _ratios(original: torch.Tensor, perturbed: torch.Tensor, repeats: int) -> torch.Tensor:
    """Captum's per-row ratio for a chunk: ``original`` ``[N, ...]``, ``perturbed`` ``[N * repeats, ...]``."""
    expanded = original.repeat_interleave(repeats, dim=0)
    norm = torch.norm(original.reshape(original.shape[0], -1), p="fro", dim=1, keepdim=True)
    norm = torch.where(norm == 0.0, torch.ones_like(norm), norm).repeat_interleave(repeats, dim=0)
    change = (expanded - perturbed).reshape(perturbed.shape[0], -1)
    return (torch.norm(change, p="fro", dim=1, keepdim=True) / norm).reshape(original.shape[0], repeats)


def sensitivity(
    explain: ExplanationFunc,
    inputs: torch.Tensor,
    perturbations: torch.Tensor,
    *,
    max_examples_per_batch: int | None = None,
    original_explanation: torch.Tensor | None = None,
    **explain_kwargs: Any,
) -> Sensitivity:
    """Max sensitivity of ``explain`` at ``inputs`` (Captum's) and every ratio it maximised.

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
    chunks: list[tuple[int, int]] = []  # (first sample, samples) of each perturbed batch, in Captum's order
    ratios = torch.full((n, n_samples), float("nan"), dtype=inputs.dtype, device=inputs.device)
    original: torch.Tensor | None = None

    def perturb(expanded: torch.Tensor) -> tuple[torch.Tensor]:
        # Captum asks for the samples in order, each example repeated `current` times (repeat_interleave).
        nonlocal done
        current = expanded.shape[0] // n
        chunk = moved[:, done : done + current].reshape(expanded.shape)
        chunks.append((done, current))
        done += current
        perturbed = expanded + chunk
        if inputs.dim() == 4 and inputs.is_contiguous(memory_format=torch.channels_last):
            perturbed = perturbed.contiguous(memory_format=torch.channels_last)  # keep the inputs' format
        return (perturbed,)  # a tuple, like the unperturbed inputs Captum hands to explain

    def explanation_func(batch: tuple[torch.Tensor, ...], **kwargs: Any) -> tuple[torch.Tensor, ...]:
        nonlocal original
        if batch[0] is inputs:
            original = (original_explanation if original_explanation is not None else explain(batch, **kwargs)).contiguous()
            return (original,)
        explanation = explain(batch, **kwargs).contiguous()
        assert original is not None  # Captum explains the unperturbed inputs first
        first, current = chunks[-1]
        ratios[:, first : first + current] = _ratios(original, explanation, current)
        return (explanation,)

    values = sensitivity_max(
        explanation_func,
        inputs,
        perturb_func=perturb,
        n_perturb_samples=n_samples,
        max_examples_per_batch=max_examples_per_batch,
        **explain_kwargs,
    )
    return Sensitivity(values, ratios)


def max_sensitivity(
    explain: ExplanationFunc,
    inputs: torch.Tensor,
    perturbations: torch.Tensor,
    *,
    max_examples_per_batch: int | None = None,
    original_explanation: torch.Tensor | None = None,
    **explain_kwargs: Any,
) -> torch.Tensor:
    """Per-example max sensitivity of ``explain`` at ``inputs`` (shape ``[N]``); see :func:`sensitivity`."""
    return sensitivity(
        explain, inputs, perturbations, max_examples_per_batch=max_examples_per_batch,
        original_explanation=original_explanation, **explain_kwargs,
    ).max
