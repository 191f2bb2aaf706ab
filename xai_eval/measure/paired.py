"""What a change means, decided from paired reruns. Pure functions.

CI runs one fixed seed and the randomness is paired, so a change of a recorded number is deterministic.
Whether the expected value moved, or only the draws, has a sharp answer: rerun the changed case with the
code as it is now on the seeds it was recorded under, and look at the paired differences
``d_s = current(s) - recorded(s)``, seed by seed. A change of the draws only (another random stream, samples
drawn in another order) gives differences centred on 0; a real change shifts them all, and pairing cancels
most of the seeds' own spread, so a shift small next to that spread is still seen.

* A scalar: a two-sided paired t-test on ``d_s`` at :data:`ALPHA`. The change is reported as the mean
  difference with its confidence interval, relative to the recorded mean (or absolute, for a number such
  as ROAD's gap whose floor is absolute), the interval clipped to the values the number can take.
* A map (a snapshot): five paired statistics per seed, each tested like a scalar at ``ALPHA / 5``
  (Bonferroni: the map's false-alarm rate stays under ``ALPHA``): its magnitude (the log of the norm of the
  stored, channel-summed map, the map the numeric floor compares), its shape (the correlation of the channel-summed map with the mean of the *other*
  recorded seeds' maps: under a draw-only change the new and the recorded map are exchangeable relative to
  it), and the share of each colour channel in the norm.

The rate at which draw-only changes are called a change, and the power against real regressions, are
measured by ``benchmarks/paired_meaning.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

ALPHA = 0.01
"""Two-sided error rate of one paired test: the chance that a draw-only change is called a change."""
MAP_STATISTICS = ("magnitude", "shape", "channel 0", "channel 1", "channel 2")
"""The paired statistics of a map (:func:`map_statistics`), each tested at ``ALPHA / len(MAP_STATISTICS)``."""
MIN_SEEDS = 3
"""Fewer paired seeds than this decide nothing (the meaning stays ``unknown``)."""
SHAPE_LEVEL = 0.25
"""The shape statistic is tested at ``SHAPE_LEVEL x ALPHA / 5``: each seed's correlation is taken with the mean of
the *other* recorded seeds' maps, so the paired differences share maps and the t-test underestimates their
spread. Simulated with spatially correlated noise (6 seeds, draw-only changes), its false-alarm rate at the
nominal ALPHA / 5 = 0.2 % was 0.4-0.8 %; a quarter of that level brings it back under 0.2 % (measured on the
fixture cases by ``benchmarks/paired_meaning.py``)."""


def t_quantile(probability: float, df: int) -> float:
    """Student's t quantile (scipy)."""
    from scipy.stats import t

    return float(t.ppf(probability, df))


@dataclass(frozen=True)
class PairedChange:
    """The paired differences of one number: their mean and its confidence interval, and what they mean."""

    meaning: str
    """``noise`` (no evidence the expected value moved), ``worse`` / ``better`` (it moved, in that direction)
    or ``beyond`` (it moved; a number without a better side)."""
    mean: float
    low: float
    high: float
    """The confidence interval of the mean difference (at the test's level), clipped to the number's range."""
    n: int
    reference: float
    """The mean of the recorded values (a relative change is relative to it)."""
    relative: bool = True
    """Report relative to ``reference`` (False: absolute, as a number whose floor is absolute)."""
    what: str = ""
    """Which statistic (a map's ``magnitude``, ``shape``, ...), '' for a scalar."""

    @property
    def significant(self) -> bool:
        return self.meaning != "noise"

    def _size(self, value: float) -> float:
        return value / abs(self.reference) if self.relative and self.reference else value

    def describe(self) -> str:
        """e.g. ``+38.1 % (+31.0 % to +45.2 %) over 6 paired seeds``."""
        if self.relative and self.reference:
            mean, low, high = (f"{self._size(v):+.1%}" for v in (self.mean, self.low, self.high))
        else:
            mean, low, high = (f"{v:+.3g}" for v in (self.mean, self.low, self.high))
        name = f"{self.what} " if self.what else ""
        return f"{name}{mean} ({low} to {high}) over {self.n} paired seeds"

    def to_json(self) -> dict[str, object]:
        return {"meaning": self.meaning, "mean": self.mean, "low": self.low, "high": self.high, "n": self.n,
                "reference": self.reference, "relative": self.relative, "what": self.what}


def paired_change(
    recorded: Sequence[float],
    current: Sequence[float],
    *,
    lower_is_better: bool | None = True,
    bounds: tuple[float, float] = (-math.inf, math.inf),
    relative: bool = True,
    alpha: float = ALPHA,
    what: str = "",
    floor: float = 0.0,
) -> PairedChange | None:
    """The paired test of ``current[i] - recorded[i]`` (the same seed at index ``i``); None with fewer than
    :data:`MIN_SEEDS` pairs, or when a difference is not a number (a value undefined at a rerun seed: no
    evidence either way). ``lower_is_better`` None: a number without a better side (``beyond``). ``bounds`` is
    the range the number can take: the decision is made on the interval as computed, and the interval reported
    is clipped so that the new mean never leaves the range. ``floor`` is the number's numeric floor, in its own
    units: a mean difference within it is rounding (threads, device, a solver's tolerance), not a moved expected
    value, however consistent its sign; only a mean beyond the floor whose interval excludes 0 is a change."""
    import statistics

    if len(recorded) != len(current):
        raise ValueError("paired values need the same seeds on both sides")
    n = len(recorded)
    if n < MIN_SEEDS:
        return None
    diffs = [c - r for r, c in zip(recorded, current)]
    reference = statistics.fmean(recorded)
    if any(math.isnan(d) for d in diffs) or not math.isfinite(reference):
        return None
    infinite = {math.copysign(1.0, d) for d in diffs if math.isinf(d)}
    if infinite:  # a number that became infinite (a map that vanished, log 0): a change in that direction, if one
        if len(infinite) > 1:
            return None
        sign = infinite.pop() * math.inf
        return PairedChange(_direction(sign, lower_is_better), sign, sign, sign, n, reference, relative, what)
    mean = statistics.fmean(diffs)
    half = t_quantile(1 - alpha / 2, n - 1) * statistics.stdev(diffs) / math.sqrt(n)
    low, high = mean - half, mean + half
    moved = (low > 0 or high < 0) and abs(mean) > floor
    meaning = _direction(mean, lower_is_better) if moved else "noise"
    if bounds[0] - reference <= bounds[1] - reference:  # shown: the new mean's interval kept in range
        low, high = max(low, bounds[0] - reference), min(high, bounds[1] - reference)
        low, high = min(low, mean), max(high, mean)
    return PairedChange(meaning, mean, low, high, n, reference, relative, what)


def _direction(mean: float, lower_is_better: bool | None) -> str:
    if lower_is_better is None:
        return "beyond"
    return "worse" if (mean > 0) == lower_is_better else "better"


def map_statistics(maps: Sequence[tuple[Sequence[float], Sequence[float]]], recorded_maps: Sequence[Sequence[float]]
                   ) -> dict[str, list[float]]:
    """The paired statistics of maps, one value per seed: ``maps[i]`` is (flattened channel-summed map, channel
    norms) at seed ``i``; ``recorded_maps`` are the recorded flattened maps at the same seeds (the shape
    statistic's reference for seed ``i`` is the mean of the others). Magnitude: ``log`` of the map's norm; shape:
    the Pearson correlation with that reference; channel ``k``: its share of the norm over the channels (what
    the channel sum cannot see)."""
    import numpy as np

    recorded = np.asarray(recorded_maps, dtype=np.float64)
    total = recorded.sum(axis=0)
    stats: dict[str, list[float]] = {name: [] for name in MAP_STATISTICS}
    for index, (values, norms) in enumerate(maps):
        flat = np.asarray(values, dtype=np.float64)
        size = float(np.linalg.norm(flat))
        stats["magnitude"].append(math.log(size) if size > 0 else -math.inf)
        others = (total - recorded[index]) / max(len(recorded) - 1, 1)
        stats["shape"].append(_correlation(flat, others))
        norm = math.sqrt(sum(v * v for v in norms))
        for k in range(3):
            stats[f"channel {k}"].append(norms[k] / norm if norm > 0 and k < len(norms) else 0.0)
    return stats


def _correlation(a: object, b: object) -> float:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def paired_map_change(recorded: dict[str, list[float]], current: dict[str, list[float]], *, alpha: float = ALPHA
                      ) -> tuple[str, list[PairedChange]]:
    """A map's meaning from its paired statistics (:func:`map_statistics` of the recorded and the current maps
    at the same seeds): ``beyond`` when any statistic moved beyond its floor at ``alpha / 5``, else ``noise``; ``unknown`` with
    too few seeds. Returns the meaning and every statistic's paired change."""
    from xai_eval.records.floors import MAP_CHANNEL, MAP_RELATIVE_L2

    level = alpha / len(MAP_STATISTICS)
    changes = []
    for name in MAP_STATISTICS:
        # the floors in each statistic's units: a map within MAP_RELATIVE_L2 of another moves the log of its norm
        # by about as much and its correlation with any reference by at most about twice that; a channel's share
        # moves by about as much as its norm, relative to the map's (MAP_CHANNEL)
        floor = {"magnitude": MAP_RELATIVE_L2, "shape": 2 * MAP_RELATIVE_L2}.get(name, MAP_CHANNEL)
        change = paired_change(recorded[name], current[name], lower_is_better=None, what=name, floor=floor,
                               alpha=level * SHAPE_LEVEL if name == "shape" else level,
                               relative=False, bounds=(-1.0, 1.0) if name != "magnitude" else (-math.inf, math.inf))
        if change is None:
            return "unknown", []
        changes.append(change)
    return ("beyond" if any(c.significant for c in changes) else "noise"), changes


def describe_map_change(changes: Sequence[PairedChange]) -> str:
    """The statistics that moved (or, for noise, magnitude and shape), e.g. ``magnitude x1.50 (x1.50 to x1.50)``."""
    moved = [c for c in changes if c.significant] or list(changes[:2])
    parts = []
    for c in moved:
        if c.what == "magnitude":
            parts.append(f"magnitude x{math.exp(c.mean):.3g} (x{math.exp(c.low):.3g} to x{math.exp(c.high):.3g})")
        else:
            parts.append(f"{c.what} {c.mean:+.3g} ({c.low:+.3g} to {c.high:+.3g})")
    n = changes[0].n if changes else 0
    return f"{'; '.join(parts)} over {n} paired seeds"
