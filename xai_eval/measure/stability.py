"""Relative input and output stability (Agarwal et al. 2022, "Rethinking Stability for Attribution-based
Explanations"; RIS and ROS in OpenXAI). Pure functions.

Both divide how much the explanation changed under a perturbation by how much the input (RIS) or the
model's logits (ROS) changed, and take the worst perturbation::

    RIS = max_j  e_j / max(i_j, CHANGE_FLOOR)        ROS = max_j  e_j / max(o_j, CHANGE_FLOOR)

with ``e_j = ||A(x + d_j) - A(x)|| / ||A(x)||`` (the ratio max sensitivity maximises, from the same perturbed
explanations), ``i_j = ||d_j|| / ||x||`` and ``o_j = ||h(x + d_j) - h(x)|| / ||h(x)||`` (``h``: the logits), all L2
norms relative to the unperturbed one, as OpenXAI computes them. The paper writes the relative changes
element-wise, ``||(A - A') / A||``, which is undefined wherever an attribution or a pixel is 0 (a normalised
pixel at the mean colour, a Grad-CAM-gated zero) and dominated by the elements nearest 0 elsewhere; the
norm ratio keeps the paper's meaning (relative changes, scale-free) without that.

Only perturbations that keep the model's prediction count (the definition's domain): one that changes the
predicted class is left out and reported (:attr:`RelativeStability.prediction_changes`), never divided by.
Lower is more stable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

CHANGE_FLOOR = 1e-5
"""The smallest relative change of the input or of the logits that RIS and ROS divide by (Agarwal et al.'s
``epsilon_min``). A relative change below it is float rounding (float32 resolves about 1e-7 of a value; a
norm of rounding errors over thousands of elements stays far below 1e-5), not a change the explanation
should be measured against: without the floor, a perturbation the model rounds away would make any
explanation change, however small, look infinitely unstable. The fixture cases' smallest changes are far
above it (README: measured input and logit changes)."""


def relative_change(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """``||after_j - before|| / ||before||`` (L2 over all elements) for each row ``j`` of ``after`` (float64).

    ``before`` has shape ``S``, ``after`` ``[n, *S]``. A zero ``before`` divides by 1 (as Captum's
    sensitivity does).
    """
    reference = before.reshape(-1).to(torch.float64)
    norm = torch.linalg.vector_norm(reference)
    change = after.reshape(after.shape[0], -1).to(torch.float64) - reference
    return torch.linalg.vector_norm(change, dim=1) / (norm if norm > 0 else 1.0)


@dataclass(frozen=True)
class RelativeStability:
    """One example's relative stability against one reference (input or logits)."""

    value: float
    """The worst ratio over the perturbations that kept the prediction (NaN if none did)."""
    kept: int
    """Perturbations that kept the predicted class."""
    prediction_changes: int
    """Perturbations that changed the predicted class: left out."""
    floored: int = 0
    """Kept perturbations whose reference change was below :data:`CHANGE_FLOOR` (divided by the floor)."""


def relative_stability(
    explanation_change: torch.Tensor, reference_change: torch.Tensor, same_prediction: torch.Tensor,
    floor: float = CHANGE_FLOOR,
) -> RelativeStability:
    """``max_j explanation_change[j] / max(reference_change[j], floor)`` over the ``j`` with ``same_prediction[j]``.

    All three have shape ``[n]``; ``explanation_change`` and ``reference_change`` are relative changes
    (:func:`relative_change`).
    """
    if not explanation_change.shape == reference_change.shape == same_prediction.shape:
        raise ValueError(
            f"shapes differ: explanation {tuple(explanation_change.shape)}, reference {tuple(reference_change.shape)}, "
            f"prediction {tuple(same_prediction.shape)}"
        )
    keep = same_prediction.to(torch.bool)
    kept = int(keep.sum())
    changes = int(keep.numel() - kept)
    if kept == 0:
        return RelativeStability(math.nan, 0, changes)
    reference = reference_change.to(torch.float64)[keep]
    ratios = explanation_change.to(torch.float64)[keep] / reference.clamp_min(floor)
    return RelativeStability(float(ratios.max()), kept, changes, int((reference < floor).sum()))
