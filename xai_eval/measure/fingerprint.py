"""The model's fingerprint on an image: its target and top-5 logits. A pure function of the logits.

An explanation can only be compared with its snapshot if the model still is the model: weights that
drifted, a model left in train mode, preprocessing without its normalisation or a relabelled image all
move these logits, whatever the attribution method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

TOP_K = 5
LOGIT_RTOL = 1e-3
"""Relative tolerance on a stored logit. The forward pass has no dice: benign changes move Lite0's logits
far less (measured on the 3 photos: channels_last weights 4.8e-6, one thread 2.5e-6, relative); the
2 % weight drift of ``tests/test_mutations.py`` fails it on every case."""
LOGIT_ATOL = 1e-3


@dataclass(frozen=True)
class Fingerprint:
    """Target class and its logit, and the top-``TOP_K`` classes with their logits."""

    target: int
    target_logit: float
    top: tuple[int, ...]
    top_logits: tuple[float, ...]

    def to_json(self) -> dict[str, object]:
        return {"target": self.target, "target_logit": self.target_logit, "top": list(self.top), "top_logits": list(self.top_logits)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Fingerprint:
        """Parse a stored fingerprint; ``ValueError`` for non-finite logits (they could never fail)."""
        import math

        found = cls(int(data["target"]), float(data["target_logit"]),  # type: ignore[arg-type]
                    tuple(int(c) for c in data["top"]), tuple(float(v) for v in data["top_logits"]))  # type: ignore[union-attr]
        if not all(math.isfinite(v) for v in (found.target_logit, *found.top_logits)):
            raise ValueError("a stored logit is not finite")
        return found


def fingerprint_of(logits: torch.Tensor, target: int) -> Fingerprint:
    """The fingerprint of one example's logits (``1 x classes`` or ``classes``)."""
    row = logits.detach().reshape(-1).double().cpu()
    values, classes = row.topk(min(TOP_K, row.numel()))
    return Fingerprint(target, float(row[target]), tuple(int(c) for c in classes), tuple(float(v) for v in values))


def _moved(current: float, stored: float) -> bool:
    """Outside the tolerance, or not a number (NaN never compares within anything)."""
    return not abs(current - stored) <= LOGIT_ATOL + LOGIT_RTOL * abs(stored)


def changes(logits: torch.Tensor, target: int, stored: Fingerprint) -> list[str]:
    """What moved between ``stored`` and the model's current ``logits`` (empty when nothing did).

    The stored classes' logits are compared class by class, so two near-tied classes that swap places
    within the tolerance are not a change (a benign change of kernels could swap them), and a class that
    overtakes one of them by more than the tolerance is one only if a stored logit moved too.
    """
    row = logits.detach().reshape(-1).double().cpu()
    found: list[str] = []
    if target != stored.target:
        found.append(f"target class {stored.target} -> {target}")
    current_target = float(row[stored.target])
    if _moved(current_target, stored.target_logit):
        found.append(f"target logit {stored.target_logit:.5g} -> {current_target:.5g}")
    for cls, value in zip(stored.top, stored.top_logits):
        now = float(row[cls])
        if _moved(now, value) and cls != stored.target:
            found.append(f"logit of class {cls} {value:.5g} -> {now:.5g}")
    return found
