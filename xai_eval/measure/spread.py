"""How much a case's number moves when only the dice change: the spread under other seeds, and the
tolerance derived from it. Pure functions; the gate calls them when calibrating (``--xai-calibrate K``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RTOL_FLOOR = 0.03
"""The smallest calibrated rtol: covers float-rounding differences between devices and kernels."""
SPREADS_PER_TOLERANCE = 3.0
"""A calibrated rtol is at least this many relative spreads (standard deviations / mean)."""
LOOSE_SPREAD = 0.05
"""A case whose relative spread exceeds this is listed as *loose* in the summary."""


@dataclass(frozen=True)
class Spread:
    """A case's values under ``k`` seeds: the gate's own and the K calibration seeds (k = K + 1)."""

    min: float
    max: float
    relative: float
    """Sample standard deviation / |mean| of the values (0 when they are all equal)."""
    k: int
    mean: float = math.nan

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if len(values) < 2:
            raise ValueError("a spread needs at least two values")
        mean = statistics.fmean(values)
        sd = statistics.stdev(values)
        relative = 0.0 if sd == 0 else (sd / abs(mean) if mean else math.inf)
        return cls(min(values), max(values), relative, len(values), mean)

    @property
    def loose(self) -> bool:
        return self.relative > LOOSE_SPREAD

    def to_json(self) -> dict[str, float]:
        return {"min": self.min, "max": self.max, "mean": self.mean, "relative": self.relative, "k": self.k}


def calibrated_rtol(value: float, spread: Spread) -> float:
    """The rtol that puts the threshold at least at mean + 3 standard deviations of the seeds' values
    and above every value seen (so no calibration seed would have failed), and at least ``RTOL_FLOOR``;
    measured from ``value`` (the baseline, one of those seeds) and rounded up to 3 digits."""
    if not value:
        return RTOL_FLOOR
    mean = spread.mean if math.isfinite(spread.mean) else value
    upper = max(mean + SPREADS_PER_TOLERANCE * spread.relative * abs(mean), spread.max)
    rtol = max(RTOL_FLOOR, (upper - value) / abs(value))
    return math.ceil(rtol * 1000) / 1000
