"""Is it still the same explanation? Compact snapshots of a map and their distances. Pure functions.

Max sensitivity says how *stable* an explanation is; these say whether it is the explanation that was
accepted. A snapshot is the channel-summed (signed) map of one example, area-averaged to
``SNAPSHOT_SIZE`` squared pixels and stored as float16 divided by its largest magnitude (its ``scale``, kept
separately), so float16's range never flattens a map whose values are tiny.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

SNAPSHOT_SIZE = 56
"""Side of a stored map: 224 px / 4, enough to see a moved object, small enough to commit (6 kB a case)."""
RANK_FLOOR = 0.01
"""The smallest noise limit of the rank decorrelation ``1 - Spearman`` (rounding reorders near-ties)."""
INFORMATIVE_REL_L2 = 1.0
"""A relative-L2 noise limit at or above this would call an all-zero map noise (its distance is exactly 1)."""
INFORMATIVE_RANK = 0.9
"""A rank-distance noise limit at or above this would call a map unrelated to the snapshot (Spearman ~0) noise."""


@dataclass(frozen=True)
class Snapshot:
    """A stored map: float16 values in [-1, 1], the scale that multiplies them back, and the norms of the
    full-resolution attribution's channels (what the channel sum cannot see: a swap of colour channels)."""

    values: np.ndarray
    scale: float
    channel_norms: tuple[float, ...] = ()

    def restored(self) -> np.ndarray:
        return self.values.astype("float64") * self.scale


def snapshot_of(attribution: torch.Tensor, size: int = SNAPSHOT_SIZE) -> Snapshot:
    """The snapshot of the first example of ``attribution`` (``1 x C x H x W``)."""
    import numpy as np
    import torch

    first = attribution.detach()[:1].double().cpu()
    channel_norms = tuple(float(v) for v in first[0].flatten(1).norm(dim=1))
    saliency = first.sum(dim=-3, keepdim=True)
    if saliency.shape[-1] > size or saliency.shape[-2] > size:
        saliency = torch.nn.functional.adaptive_avg_pool2d(saliency, size)
    values = saliency[0, 0].numpy()
    scale = float(np.abs(values).max())
    normalised = values / scale if scale > 0 else values
    return Snapshot(normalised.astype(np.float16), scale, channel_norms)


@dataclass(frozen=True)
class MapDistance:
    """How far a current map is from its snapshot."""

    rank_correlation: float
    """Spearman correlation of the two maps (average ranks for ties); NaN if either is constant."""
    relative_l2: float
    """||current - snapshot|| / ||snapshot|| (inf if the snapshot is all zeros and the current map is not)."""
    channel: float = 0.0
    """The largest change of a channel's norm, relative to the snapshot's total norm (0 if either has none)."""

    @property
    def rank_distance(self) -> float:
        """1 - rank correlation; 1 for a constant map (no ranking left to compare)."""
        return 1.0 if math.isnan(self.rank_correlation) else 1.0 - self.rank_correlation

    def describe(self) -> str:
        return (f"relative L2 {self.relative_l2:.3g}, rank correlation {self.rank_correlation:.4g}, "
                f"channel norms moved by {self.channel:.3g}")


def distance(current: Snapshot, reference: Snapshot) -> MapDistance:
    """Compare two snapshots as stored (both quantised the same way, so storage costs nothing)."""
    import numpy as np
    import pandas as pd

    a, b = current.restored().ravel(), reference.restored().ravel()
    if a.shape != b.shape:
        return MapDistance(math.nan, math.inf, math.inf)
    ra = pd.Series(a).rank(method="average").to_numpy()
    rb = pd.Series(b).rank(method="average").to_numpy()
    rank = math.nan if ra.std() == 0 or rb.std() == 0 else float(np.corrcoef(ra, rb)[0, 1])
    norm = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    relative = diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)
    return MapDistance(rank, relative, _channel_change(current.channel_norms, reference.channel_norms))


def _channel_change(current: tuple[float, ...], reference: tuple[float, ...]) -> float:
    if not current or not reference:
        return 0.0  # nothing recorded to compare
    if len(current) != len(reference):
        return math.inf
    total = math.sqrt(sum(v * v for v in reference))
    worst = max(abs(a - b) for a, b in zip(current, reference))
    return worst / total if total > 0 else (0.0 if worst == 0 else math.inf)


@dataclass(frozen=True)
class MapNoise:
    """How far another seed moves a case's map: the limits within which a change is Monte-Carlo noise."""

    relative_l2: float
    rank_distance: float
    channel: float
    seeds: int
    """How many other seeds measured it."""

    @property
    def informative(self) -> bool:
        """Whether a zero or an unrelated map would be beyond this noise: otherwise the method's dice move
        its map as much as any regression could, and calling a change noise decides nothing."""
        return self.relative_l2 < INFORMATIVE_REL_L2 or self.rank_distance < INFORMATIVE_RANK

    def allows(self, d: MapDistance) -> bool:
        return d.relative_l2 <= self.relative_l2 and d.rank_distance <= self.rank_distance and d.channel <= self.channel

    def describe(self) -> str:
        return (f"another seed moves it up to relative L2 {self.relative_l2:.3g}, rank correlation "
                f"{1 - self.rank_distance:.3g}, channel norms {self.channel:.3g} ({self.seeds} seeds)")

    def to_json(self) -> dict[str, float | int]:
        return {"relative_l2": self.relative_l2, "rank_distance": self.rank_distance, "channel": self.channel,
                "seeds": self.seeds}


def unchanged(d: MapDistance) -> bool:
    """Within the numeric floor: the map (magnitude included) and its channel norms."""
    from xai_eval.records.floors import MAP_CHANNEL, MAP_RELATIVE_L2

    return d.relative_l2 <= MAP_RELATIVE_L2 and d.channel <= MAP_CHANNEL


def map_meaning(d: MapDistance, noise: MapNoise | None) -> str:
    """``unchanged``, ``noise`` (within what another seed does), ``beyond`` or ``unknown`` (never calibrated)."""
    if unchanged(d):
        return "unchanged"
    if noise is None:
        return "unknown"
    return "noise" if noise.allows(d) else "beyond"


def calibrated_noise(distances: list[MapDistance]) -> MapNoise:
    """The noise limits: each at the one-sided prediction bound of the distances seen under other seeds
    (:func:`xai_eval.measure.spread.prediction_factor`), above the largest of them, and at least its
    numeric floor; rounded up to 3 digits. A method without dice measures ~0: its floors."""
    import statistics

    from xai_eval.measure.spread import prediction_factor
    from xai_eval.records.floors import MAP_CHANNEL, MAP_RELATIVE_L2

    def bound(values: list[float], floor: float) -> float:
        if len(values) < 2 or not all(math.isfinite(v) for v in values):
            return floor
        upper = max(statistics.fmean(values) + prediction_factor(len(values)) * statistics.stdev(values), max(values))
        return math.ceil(max(floor, upper) * 1000) / 1000

    return MapNoise(
        bound([d.relative_l2 for d in distances], MAP_RELATIVE_L2),
        bound([d.rank_distance for d in distances], RANK_FLOOR),
        bound([d.channel for d in distances], MAP_CHANNEL),
        len(distances),
    )
