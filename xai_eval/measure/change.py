"""What a change of a recorded number means. Pure functions.

CI runs one fixed seed, so a recorded number that moves beyond its numeric floor
(:mod:`xai_eval.records.floors`) has changed: something computed it differently. Whether that change
matters is a second question, answered by the case's spread under other seeds (``--xai-calibrate K``):

* ``unchanged`` -- within the numeric floor (rounding: threads, device, batch sizes, memory format);
* ``noise`` -- beyond the floor, but within what another seed does (the one-sided 99.9 % prediction
  bound of the seeds' values, and never outside the range they were seen in);
* ``worse`` / ``better`` -- beyond that noise, in the direction that makes the number worse or better;
* ``beyond`` -- beyond noise, for a number without a better side (a map, a model's logits);
* ``unknown`` -- changed, and no calibrated spread says how much that means.

Which meanings fail the gate is a policy (:data:`POLICIES`): by default every change does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from xai_eval.measure.spread import Spread, prediction_factor

Meaning = Literal["unchanged", "noise", "worse", "better", "beyond", "unknown"]
DESCRIPTIONS: dict[str, str] = {
    "unchanged": "unchanged (within the numeric floor)",
    "noise": "within Monte-Carlo noise (what another seed does)",
    "worse": "worse beyond noise",
    "better": "better beyond noise",
    "beyond": "changed beyond noise",
    "unknown": "changed, with no calibrated seed spread to say what it means",
}
SEVERITY: tuple[str, ...] = ("beyond", "worse", "unknown", "better", "noise", "unchanged")
"""Meanings from the most to the least serious (a case's meaning is that of its most serious check)."""

POLICIES = ("change", "worse-beyond-noise")
"""``change`` (default): every change beyond the numeric floor fails. ``worse-beyond-noise``: only a change
beyond Monte-Carlo noise that is worse (or has no better side, or no calibrated spread) fails; the others
pass and are still listed in the summary."""
DEFAULT_POLICY = "change"
_FAILS = {"change": {"noise", "worse", "better", "beyond", "unknown"}, "worse-beyond-noise": {"worse", "beyond", "unknown"}}


def fails(meaning: str, policy: str) -> bool:
    """Whether a change of this meaning fails the gate under ``policy``."""
    return meaning in _FAILS[policy]


def most_serious(meanings: list[str]) -> str:
    return min(meanings, key=SEVERITY.index) if meanings else "unchanged"


@dataclass(frozen=True)
class ScalarChange:
    """How a recorded scalar (max sensitivity) moved, and what that means."""

    recorded: float
    current: float
    meaning: Meaning
    sds: float | None
    """The change in standard deviations of the seed spread (None without a spread)."""
    noise_low: float | None = None
    noise_high: float | None = None
    """What another seed gives: the prediction interval of the seeds' values (None without a spread)."""

    @property
    def relative(self) -> float:
        return (self.current - self.recorded) / abs(self.recorded) if self.recorded else math.inf

    def describe(self) -> str:
        """e.g. ``0.641 -> 0.6522 (+1.75 %, +0.8 sd of the seed spread; another seed gives 0.61-0.68)``."""
        parts = [f"{self.relative:+.2%}" if math.isfinite(self.relative) else "from 0"]
        if self.sds is not None and self.noise_low is not None:
            parts.append(f"{self.sds:+.2g} sd of the seed spread; another seed gives {self.noise_low:.4g} to {self.noise_high:.4g}")
        return f"{self.recorded:.6g} -> {self.current:.6g} ({', '.join(parts)})"


def noise_interval(spread: Spread) -> tuple[float, float]:
    """What another seed gives: mean -/+ the one-sided 99.9 % prediction bound, widened to every value seen."""
    mean = spread.mean if math.isfinite(spread.mean) else (spread.min + spread.max) / 2
    half = prediction_factor(spread.k) * spread.relative * abs(mean)
    return min(mean - half, spread.min), max(mean + half, spread.max)


def scalar_change(
    recorded: float, current: float, spread: Spread | None, *, rtol: float, atol: float, lower_is_better: bool = True
) -> ScalarChange:
    """Classify ``current`` against ``recorded``: within the floor (``atol + rtol |recorded|``), else
    against the recorded value's seed spread. A spread that does not contain the recorded value (a file
    edited by hand, or one written by an older tool) describes another value: the meaning is ``unknown``."""
    from xai_eval.records.floors import within

    if within(current, recorded, rtol, atol):
        return ScalarChange(recorded, current, "unchanged", None)
    if spread is None or not math.isfinite(current):
        return ScalarChange(recorded, current, "unknown", None)
    low, high = noise_interval(spread)
    if not low <= recorded <= high:
        return ScalarChange(recorded, current, "unknown", None)
    sd = spread.relative * abs(spread.mean if math.isfinite(spread.mean) else recorded)
    sds = (current - recorded) / sd if sd > 0 else math.copysign(math.inf, current - recorded)
    if low <= current <= high:
        meaning: Meaning = "noise"
    elif (current > high) == lower_is_better:
        meaning = "worse"
    else:
        meaning = "better"
    return ScalarChange(recorded, current, meaning, sds, low, high)
