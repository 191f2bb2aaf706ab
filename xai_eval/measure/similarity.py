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
REL_L2_FLOOR = 0.02
"""The smallest tolerated relative L2 distance. float16 storage costs < 1e-3 (``tests/test_snapshots.py``),
and the benign changes of ``tests/test_mutations.py`` (one thread, an NCHW model, other batch sizes)
pass with it, and so do the gate's own reruns (distance 0 to 5 decimals)."""
RANK_FLOOR = 0.01
"""The smallest tolerated rank decorrelation ``1 - Spearman``, for the same reason."""
INFORMATIVE_REL_L2 = 1.0
"""A relative-L2 limit at or above this passes an all-zero map (distance exactly 1)."""
INFORMATIVE_RANK = 0.9
"""A rank-distance limit at or above this passes a map unrelated to the snapshot (Spearman ~0)."""


@dataclass(frozen=True)
class Snapshot:
    """A stored map: float16 values in [-1, 1] and the scale that multiplies them back."""

    values: np.ndarray
    scale: float

    def restored(self) -> np.ndarray:
        return self.values.astype("float64") * self.scale


def snapshot_of(attribution: torch.Tensor, size: int = SNAPSHOT_SIZE) -> Snapshot:
    """The snapshot of the first example of ``attribution`` (``1 x C x H x W``)."""
    import numpy as np
    import torch

    saliency = attribution.detach()[:1].double().sum(dim=-3, keepdim=True).cpu()
    if saliency.shape[-1] > size or saliency.shape[-2] > size:
        saliency = torch.nn.functional.adaptive_avg_pool2d(saliency, size)
    values = saliency[0, 0].numpy()
    scale = float(np.abs(values).max())
    normalised = values / scale if scale > 0 else values
    return Snapshot(normalised.astype(np.float16), scale)


@dataclass(frozen=True)
class MapDistance:
    """How far a current map is from its snapshot."""

    rank_correlation: float
    """Spearman correlation of the two maps (average ranks for ties); NaN if either is constant."""
    relative_l2: float
    """||current - snapshot|| / ||snapshot|| (inf if the snapshot is all zeros and the current map is not)."""

    @property
    def rank_distance(self) -> float:
        """1 - rank correlation; 1 for a constant map (no ranking left to compare)."""
        return 1.0 if math.isnan(self.rank_correlation) else 1.0 - self.rank_correlation


def distance(current: Snapshot, reference: Snapshot) -> MapDistance:
    """Compare two snapshots as stored (both quantised the same way, so storage costs nothing)."""
    import numpy as np
    import pandas as pd

    a, b = current.restored().ravel(), reference.restored().ravel()
    if a.shape != b.shape:
        return MapDistance(math.nan, math.inf)
    ra = pd.Series(a).rank(method="average").to_numpy()
    rb = pd.Series(b).rank(method="average").to_numpy()
    rank = math.nan if ra.std() == 0 or rb.std() == 0 else float(np.corrcoef(ra, rb)[0, 1])
    norm = float(np.linalg.norm(b))
    diff = float(np.linalg.norm(a - b))
    relative = diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)
    return MapDistance(rank, relative)


@dataclass(frozen=True)
class MapTolerance:
    """How far a map may move from its snapshot: relative L2 and rank decorrelation, each with its spread."""

    max_relative_l2: float = REL_L2_FLOOR
    max_rank_distance: float = RANK_FLOOR
    seeds: int = 0
    """How many other seeds calibrated it (0: the floors, for a method without dice or never calibrated)."""

    @property
    def informative(self) -> bool:
        """Whether a zero or an unrelated map would fail: otherwise the method's dice move its map as much
        as any regression could, and the snapshot check is *inconclusive*, never a pass."""
        return self.max_relative_l2 < INFORMATIVE_REL_L2 or self.max_rank_distance < INFORMATIVE_RANK

    def allows(self, d: MapDistance) -> bool:
        return d.relative_l2 <= self.max_relative_l2 and d.rank_distance <= self.max_rank_distance

    def to_json(self) -> dict[str, float | int]:
        return {"max_relative_l2": self.max_relative_l2, "max_rank_distance": self.max_rank_distance, "seeds": self.seeds}


def calibrated_tolerance(distances: list[MapDistance]) -> MapTolerance:
    """The tolerance that puts each limit at the one-sided prediction bound of the distances seen under
    other seeds (:func:`xai_eval.measure.spread.prediction_factor`), above the largest of them, and at
    least its floor; rounded up to 3 digits. A deterministic method's distances are ~0: its floors."""
    import statistics

    from xai_eval.measure.spread import prediction_factor

    def bound(values: list[float], floor: float) -> float:
        if len(values) < 2 or not all(math.isfinite(v) for v in values):
            return floor  # nothing to measure a spread from: the floor, so a reseeded run shows it
        upper = max(statistics.fmean(values) + prediction_factor(len(values)) * statistics.stdev(values), max(values))
        return math.ceil(max(floor, upper) * 1000) / 1000

    return MapTolerance(
        bound([d.relative_l2 for d in distances], REL_L2_FLOOR),
        bound([d.rank_distance for d in distances], RANK_FLOOR),
        len(distances),
    )
