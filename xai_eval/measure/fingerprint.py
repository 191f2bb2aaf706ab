"""The model's fingerprint on an image, forward and backward. Pure functions of the logits and the gradient.

An explanation can only be compared with its snapshot if the model still is the model. Forward: the
target and the top-5 logits (drifted weights, a model left in train mode, preprocessing without its
normalisation or a relabelled image all move them). Backward: the input gradient of the target logit,
pooled to ``GRADIENT_SIZE`` squared cells, and its per-channel norms: a change that alters the gradients but
not the logits (a ``detach()`` on a branch, a custom autograd function) moves them, and is then reported
as one model change rather than as a change of every method. Both are compared at the numeric floor
(:mod:`xai_eval.records.floors`); a model has no dice, so any change beyond it is a model change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xai_eval.records.floors import GRADIENT_RELATIVE_L2, LOGIT_ATOL, LOGIT_RTOL, within

if TYPE_CHECKING:
    import torch

TOP_K = 5
GRADIENT_SIZE = 8
"""Side of the pooled input gradient kept in the fingerprint (64 numbers a photo)."""


@dataclass(frozen=True)
class GradientPrint:
    """The input gradient of the target logit: channel-summed, area-averaged to ``GRADIENT_SIZE`` squared
    cells (row-major), and the full-resolution norm of each channel."""

    pooled: tuple[float, ...]
    channel_norms: tuple[float, ...]

    def to_json(self) -> dict[str, object]:
        return {"pooled": list(self.pooled), "channel_norms": list(self.channel_norms)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> GradientPrint:
        found = cls(tuple(float(v) for v in data["pooled"]), tuple(float(v) for v in data["channel_norms"]))  # type: ignore[union-attr]
        if not all(math.isfinite(v) for v in (*found.pooled, *found.channel_norms)):
            raise ValueError("a stored gradient value is not finite")
        return found


@dataclass(frozen=True)
class Fingerprint:
    """Target class and its logit, the top-``TOP_K`` classes with their logits, and the input gradient."""

    target: int
    target_logit: float
    top: tuple[int, ...]
    top_logits: tuple[float, ...]
    gradient: GradientPrint | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"target": self.target, "target_logit": self.target_logit, "top": list(self.top),
                                   "top_logits": list(self.top_logits)}
        if self.gradient is not None:
            data["gradient"] = self.gradient.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fingerprint:
        """Parse a stored fingerprint; ``ValueError`` for non-finite values (they could never fail)."""
        gradient = data.get("gradient")
        found = cls(int(data["target"]), float(data["target_logit"]),  # type: ignore[arg-type]
                    tuple(int(c) for c in data["top"]), tuple(float(v) for v in data["top_logits"]),  # type: ignore[union-attr]
                    None if gradient is None else GradientPrint.from_json(gradient))  # type: ignore[arg-type]
        if not all(math.isfinite(v) for v in (found.target_logit, *found.top_logits)):
            raise ValueError("a stored logit is not finite")
        return found


def gradient_print(gradient: torch.Tensor) -> GradientPrint:
    """The fingerprint of one example's input gradient (``1 x C x H x W``)."""
    import torch

    first = gradient.detach()[:1].double().cpu()
    summed = first.sum(dim=1, keepdim=True)
    pooled = torch.nn.functional.adaptive_avg_pool2d(summed, GRADIENT_SIZE).flatten()
    return GradientPrint(tuple(float(v) for v in pooled), tuple(float(v) for v in first[0].flatten(1).norm(dim=1)))


def fingerprint_of(logits: torch.Tensor, target: int, gradient: torch.Tensor | None = None) -> Fingerprint:
    """The fingerprint of one example's logits (``1 x classes`` or ``classes``) and input gradient."""
    row = logits.detach().reshape(-1).double().cpu()
    values, classes = row.topk(min(TOP_K, row.numel()))
    return Fingerprint(target, float(row[target]), tuple(int(c) for c in classes), tuple(float(v) for v in values),
                       None if gradient is None else gradient_print(gradient))


def _moved(current: float, stored: float) -> bool:
    """Outside the floor, or not a number (NaN never compares within anything)."""
    return not within(current, stored, LOGIT_RTOL, LOGIT_ATOL)


def gradient_change(current: GradientPrint, stored: GradientPrint) -> float:
    """The larger of the pooled gradient's relative L2 change and the largest channel-norm change, both
    relative to the stored gradient's norms (inf for a stored gradient of zero that moved)."""
    if len(current.pooled) != len(stored.pooled) or len(current.channel_norms) != len(stored.channel_norms):
        return math.inf

    def relative(diff: float, norm: float) -> float:
        return diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)

    pooled = relative(math.dist(current.pooled, stored.pooled), math.hypot(*stored.pooled))
    channels = relative(max(abs(a - b) for a, b in zip(current.channel_norms, stored.channel_norms)),
                        math.hypot(*stored.channel_norms))
    return max(pooled, channels) if not (math.isnan(pooled) or math.isnan(channels)) else math.inf


def changes(logits: torch.Tensor, target: int, stored: Fingerprint, gradient: GradientPrint | None = None) -> list[str]:
    """What moved between ``stored`` and the model's current ``logits`` and ``gradient`` (empty when nothing did).

    The stored classes' logits are compared class by class, so two near-tied classes that swap places
    within the floor are not a change (a benign change of kernels could swap them), and a class that
    overtakes one of them by more than the floor is one only if a stored logit moved too.
    """
    row = logits.detach().reshape(-1).double().cpu()
    found: list[str] = []
    if target != stored.target:
        found.append(f"target class {stored.target} -> {target}")
    current_target = float(row[stored.target])
    if _moved(current_target, stored.target_logit):
        found.append(f"target logit {stored.target_logit:.6g} -> {current_target:.6g}")
    for cls, value in zip(stored.top, stored.top_logits):
        now = float(row[cls])
        if _moved(now, value) and cls != stored.target:
            found.append(f"logit of class {cls} {value:.6g} -> {now:.6g}")
    if stored.gradient is not None and gradient is not None:
        moved = gradient_change(gradient, stored.gradient)
        if not moved <= GRADIENT_RELATIVE_L2:
            found.append(f"input gradient of the target logit moved by {moved:.3g} (relative; floor {GRADIENT_RELATIVE_L2:g})")
    return found
