"""What a change of a recorded number means. Pure functions.

CI runs one fixed seed, so a recorded number that moves beyond its numeric floor
(:mod:`xai_eval.records.floors`) has changed: something computed it differently. Whether the change
matters is a second question, and only paired evidence answers it (:mod:`xai_eval.measure.paired`: the
changed case rerun on the seeds it was recorded under, ``--xai-paired-reruns``):

* ``unchanged`` -- within the numeric floor (rounding: threads, device, batch sizes, memory format);
* ``noise`` -- the paired differences give no evidence that the expected value moved (only the draws did);
* ``worse`` / ``better`` -- the expected value moved, in the direction that makes the number worse or better;
* ``beyond`` -- it moved, for a number without a better side (a map, a model's logits);
* ``unknown`` -- changed, and there is no paired evidence (reruns off, or no seeds recorded). The seeds'
  unpaired spread is then shown, labelled as such: one value against what another seed gives is not
  evidence either way.

Which meanings fail the gate is a policy (:data:`POLICIES`): by default every change does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from xai_eval.measure.spread import Spread, prediction_factor

if TYPE_CHECKING:
    from xai_eval.measure.paired import PairedChange

Meaning = Literal["unchanged", "noise", "worse", "better", "beyond", "unknown"]
DESCRIPTIONS: dict[str, str] = {
    "unchanged": "unchanged (within the numeric floor)",
    "noise": "no evidence the expected value moved (paired reruns: only the draws changed)",
    "worse": "worse: the expected value moved (paired reruns)",
    "better": "better: the expected value moved (paired reruns)",
    "beyond": "changed: the expected value moved (paired reruns)",
    "unknown": "changed, with no paired evidence of what it means",
}
SEVERITY: tuple[str, ...] = ("beyond", "worse", "unknown", "better", "noise", "unchanged")
"""Meanings from the most to the least serious (a case's meaning is that of its most serious check)."""

POLICIES = ("change", "worse-beyond-noise")
"""``change`` (default): every change beyond the numeric floor fails. ``worse-beyond-noise``: a change fails
unless paired evidence says it is only the draws or better; a change without paired evidence (``unknown``)
fails too. Those that pass are still listed in the summary."""
DEFAULT_POLICY = "change"
_FAILS = {"change": {"noise", "worse", "better", "beyond", "unknown"}, "worse-beyond-noise": {"worse", "beyond", "unknown"}}
PAIRED_OPTION = "--xai-paired-reruns"


def fails(meaning: str, policy: str) -> bool:
    """Whether a change of this meaning fails the gate under ``policy``."""
    return meaning in _FAILS[policy]


def most_serious(meanings: list[str]) -> str:
    return min(meanings, key=SEVERITY.index) if meanings else "unchanged"


@dataclass(frozen=True)
class ScalarChange:
    """How a recorded scalar moved, and what that means."""

    recorded: float
    current: float
    meaning: Meaning
    paired: PairedChange | None = None
    """The paired evidence (None: none)."""
    unpaired: tuple[float, float] | None = None
    """Without paired evidence: what another seed gives, from the recorded spread (a label, not evidence)."""
    missing_evidence: str = ""
    """Without paired evidence: how to get it."""

    @property
    def relative(self) -> float:
        return (self.current - self.recorded) / abs(self.recorded) if self.recorded else math.inf

    def describe(self) -> str:
        """e.g. ``0.641 -> 0.7222 (+12.67 %): +11.9 % (+9.4 % to +14.4 %) over 6 paired seeds``."""
        moved = f"{self.relative:+.2%}" if math.isfinite(self.relative) else "from 0"
        text = f"{self.recorded:.6g} -> {self.current:.6g} ({moved})"
        if self.paired is not None:
            return f"{text}: {self.paired.describe()}"
        notes = [self.missing_evidence] if self.missing_evidence else []
        if self.unpaired is not None and all(map(math.isfinite, self.unpaired)):
            notes.append(f"unpaired, not evidence either way: another seed gives {self.unpaired[0]:.4g} to {self.unpaired[1]:.4g}")
        return f"{text}; {'; '.join(notes)}" if notes else text


def noise_interval(spread: Spread, bounds: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float]:
    """What another seed gives, unpaired: mean -/+ the one-sided 99.9 % prediction bound, widened to every value
    seen and clipped to ``bounds``, the range the number can take."""
    mean = spread.mean if math.isfinite(spread.mean) else (spread.min + spread.max) / 2
    if spread.relative is None:  # the seeds differ around a mean of 0: no relative spread to scale
        return bounds
    half = prediction_factor(spread.k) * spread.relative * abs(mean)
    low, high = min(mean - half, spread.min), max(mean + half, spread.max)
    return max(low, bounds[0]), min(high, bounds[1])


def scalar_change(
    recorded: float, current: float, spread: Spread | None, *, rtol: float, atol: float, lower_is_better: bool = True,
    bounds: tuple[float, float] = (-math.inf, math.inf), paired: tuple[Sequence[float], Sequence[float]] | None = None,
    missing_evidence: str = "",
) -> ScalarChange:
    """Classify ``current`` against ``recorded``: within the floor (``atol + rtol |recorded|``) it is unchanged;
    beyond it, ``paired`` (the recorded and the current values on the same seeds) decides what it means, and
    without it the meaning is ``unknown`` (with the unpaired spread as a label, and ``missing_evidence``: how
    to get paired evidence)."""
    from xai_eval.measure.paired import paired_change
    from xai_eval.records.floors import tolerance, within

    if within(current, recorded, rtol, atol):
        return ScalarChange(recorded, current, "unchanged")
    if paired is not None and math.isfinite(current) and len(paired[0]) > 0:
        floor = tolerance(math.fsum(paired[0]) / len(paired[0]), rtol, atol)  # around the recorded seeds' mean
        change = paired_change(paired[0], paired[1], lower_is_better=lower_is_better, bounds=bounds, relative=rtol > 0,
                               floor=floor)
        if change is not None:
            return ScalarChange(recorded, current, change.meaning, change)  # type: ignore[arg-type]
    unpaired = noise_interval(spread, bounds) if spread is not None else None
    return ScalarChange(recorded, current, "unknown", None, unpaired, missing_evidence)
