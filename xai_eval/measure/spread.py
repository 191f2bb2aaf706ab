"""How much a case's number moves when only the dice change: the spread under other seeds, and the
prediction bound that says what another seed gives. Pure functions; the gate records a spread when
calibrating (``--xai-calibrate K``) and classifies later changes with it (:mod:`xai_eval.measure.change`)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

FALSE_ALARM = 0.001
"""The chance that another seed's value falls outside the prediction bound on one side."""
_T_QUANTILES = ((1, 318.31), (2, 22.327), (3, 10.215), (4, 7.173), (5, 5.893), (6, 5.208), (7, 4.785), (8, 4.501),
                (9, 4.297), (10, 4.144), (12, 3.930), (15, 3.733), (20, 3.552), (25, 3.450), (30, 3.385), (40, 3.307),
                (60, 3.232), (120, 3.160))
"""Student's t quantile at 1 - FALSE_ALARM by degrees of freedom (3.090 beyond 120)."""
LOOSE_SPREAD = 0.05
"""A case whose relative spread exceeds this is listed as *loose* in the summary."""


@dataclass(frozen=True)
class Spread:
    """A case's values under ``k`` seeds: the gate's own and the K calibration seeds (k = K + 1)."""

    min: float
    max: float
    relative: float | None
    """Sample standard deviation / |mean| of the values (0 when they are all equal; None when they differ and
    their mean is 0, where no relative spread exists)."""
    k: int
    mean: float = math.nan

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if len(values) < 2:
            raise ValueError("a spread needs at least two values")
        mean = statistics.fmean(values)
        sd = statistics.stdev(values)
        relative = 0.0 if sd == 0 else (sd / abs(mean) if mean else None)
        return cls(min(values), max(values), relative, len(values), mean)

    @property
    def loose(self) -> bool:
        return self.relative is None or self.relative > LOOSE_SPREAD

    def to_json(self) -> dict[str, float]:
        return {"min": self.min, "max": self.max, "mean": self.mean, "relative": self.relative, "k": self.k}


def prediction_factor(k: int) -> float:
    """How many sample standard deviations above the sample mean of ``k`` values a new value stays with
    probability 1 - FALSE_ALARM: the one-sided t prediction bound t(k - 1) * sqrt(1 + 1/k). Few seeds
    give a wide bound (k = 6: 6.4 sd), because their standard deviation is itself uncertain."""
    df = k - 1
    quantile = next((q for d, q in reversed(_T_QUANTILES) if d <= df), _T_QUANTILES[0][1]) if df <= 120 else 3.090
    return quantile * math.sqrt(1 + 1 / k)
