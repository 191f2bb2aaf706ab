"""The paired tests that decide what a change means (xai_eval.measure.paired): a draw-only change is called a
change at most at the stated rate; a real change of a scalar or a map is seen even when it is small next to
the seeds' spread; an interval never leaves the range a number can take."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xai_eval.measure.paired import ALPHA, MIN_SEEDS, map_statistics, paired_change, paired_map_change

N_SEEDS = 6  # --xai-calibrate 5: the run's seed and 5 calibration seeds


def _draws(rng: np.random.Generator, mean: float = 1.0, spread: float = 0.2) -> list[float]:
    return list(mean + spread * rng.standard_normal(N_SEEDS))


def test_a_draw_only_change_is_called_a_change_at_about_the_stated_rate() -> None:
    rng = np.random.default_rng(0)
    trials = 4000
    alarms = sum(paired_change(_draws(rng), _draws(rng)).significant for _ in range(trials))
    assert 0.3 * ALPHA * trials <= alarms <= 1.6 * ALPHA * trials, alarms / trials


def test_a_shift_small_next_to_the_spread_is_seen_when_the_draws_are_kept() -> None:
    rng = np.random.default_rng(1)
    recorded = _draws(rng, spread=0.2)  # a 20 % spread between seeds
    current = [v * 1.03 for v in recorded]  # +3 %, the same draws
    change = paired_change(recorded, current)
    assert change is not None and change.meaning == "worse"
    assert change.low > 0 and "over 6 paired seeds" in change.describe()
    assert paired_change(recorded, current, lower_is_better=False).meaning == "better"
    assert paired_change(recorded, current, lower_is_better=None).meaning == "beyond"


def test_identical_values_are_no_evidence_and_too_few_seeds_decide_nothing() -> None:
    same = [0.5, 0.6, 0.4, 0.55, 0.45, 0.5]
    change = paired_change(same, same)
    assert change.meaning == "noise" and change.mean == 0 and change.low == 0 == change.high
    assert paired_change(same[: MIN_SEEDS - 1], same[: MIN_SEEDS - 1]) is None


def test_a_consistent_difference_within_the_numeric_floor_is_rounding_not_a_change() -> None:
    """A rerun that reproduces the recorded values up to rounding (ROAD's solver: ~1e-8 on every seed, one
    sign) is no evidence the expected value moved, however small its spread; the same shift beyond the floor is."""
    recorded = [0.34, 0.31, 0.36, 0.33, 0.35, 0.32]
    rounding = [v - 4e-8 + 1e-9 * i for i, v in enumerate(recorded)]
    assert paired_change(recorded, rounding, relative=False).meaning == "better"  # without a floor: called a change
    assert paired_change(recorded, rounding, relative=False, floor=1e-2).meaning == "noise"
    moved = [v - 0.02 + 1e-9 * i for i, v in enumerate(recorded)]
    assert paired_change(recorded, moved, relative=False, floor=1e-2, lower_is_better=False).meaning == "worse"


def test_a_map_reproduced_up_to_rounding_is_no_evidence() -> None:
    rng = np.random.default_rng(7)
    signal = rng.standard_normal((8, 8))
    recorded = [_map(rng, signal) for _ in range(N_SEEDS)]
    rounded = [m * (1 + 1e-6) + 1e-7 for m in recorded]  # every seed's map, one way, far inside the floors
    meaning, changes = paired_map_change(_stats(recorded, recorded), _stats(rounded, recorded))
    assert meaning == "noise", [c.describe() for c in changes]
    louder = [m * 1.02 for m in recorded]  # 2 % louder on every seed: beyond MAP_RELATIVE_L2
    assert paired_map_change(_stats(recorded, recorded), _stats(louder, recorded))[0] == "beyond"


def test_the_interval_of_the_new_mean_stays_in_the_numbers_range() -> None:
    recorded = [0.01, 0.02, 0.015, 0.01, 0.03, 0.012]
    current = [0.0, 0.05, 0.0, 0.0, 0.0, 0.0]  # a noisy drop towards 0 of a number that cannot be negative
    change = paired_change(recorded, current, bounds=(0.0, math.inf))
    assert change.low >= -sum(recorded) / len(recorded) - 1e-12
    gap = paired_change([0.9, 0.8, 0.85, 0.9, 0.95, 0.8], [1.0, 0.7, 1.0, 1.0, 1.0, 0.6], bounds=(-1.0, 1.0), relative=False)
    assert 0.866 + gap.high <= 1.0 + 1e-9


def _map(rng: np.random.Generator, signal: np.ndarray, noise: float = 1.0) -> np.ndarray:
    return signal + noise * rng.standard_normal(signal.shape)


def _stats(maps: list[np.ndarray], recorded: list[np.ndarray], norms: list[tuple[float, ...]] | None = None):
    pairs = [(m.ravel(), norms[i] if norms else (np.linalg.norm(m),) * 3) for i, m in enumerate(maps)]
    return map_statistics(pairs, [r.ravel() for r in recorded])


@pytest.fixture
def signal() -> np.ndarray:
    y, x = np.mgrid[0:56, 0:56]
    return np.exp(-((x - 20.0) ** 2 + (y - 30.0) ** 2) / 80.0)


@pytest.mark.parametrize("noise", [0.3, 3.0])
def test_a_redrawn_map_is_noise_at_about_the_stated_rate(signal: np.ndarray, noise: float) -> None:
    """Spatially correlated noise (a smoothed field, as attribution noise is) and noisy channel norms, so every
    statistic varies; the shape statistic's shared reference maps are what its reduced level corrects."""
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(2)

    def draw() -> tuple[np.ndarray, tuple[float, ...]]:
        field = uniform_filter(rng.standard_normal(signal.shape), 5) * 5
        return signal + noise * field, tuple(3.0 + rng.standard_normal(3) * 0.3)

    trials, alarms = 600, 0
    for _ in range(trials):
        recorded, redrawn = [draw() for _ in range(N_SEEDS)], [draw() for _ in range(N_SEEDS)]
        reference = [m.ravel() for m, _ in recorded]
        before = map_statistics([(m.ravel(), n) for m, n in recorded], reference)
        after = map_statistics([(m.ravel(), n) for m, n in redrawn], reference)
        alarms += paired_map_change(before, after)[0] == "beyond"
    assert alarms <= 2 * ALPHA * trials, alarms / trials


@pytest.mark.parametrize("regression", ["louder", "blurred", "channels rotated"])
def test_a_changed_map_is_beyond_even_when_the_seeds_move_it_as_much(signal: np.ndarray, regression: str) -> None:
    from scipy.ndimage import uniform_filter

    rng = np.random.default_rng(3)
    recorded = [_map(rng, signal, 1.0) for _ in range(N_SEEDS)]  # noise as large as the signal (GradientSHAP's)
    norms = [(3.0, 2.0, 1.0)] * N_SEEDS
    if regression == "louder":
        current, current_norms = [m * 1.5 for m in recorded], [tuple(1.5 * v for v in n) for n in norms]
    elif regression == "blurred":
        current, current_norms = [uniform_filter(m, 7) for m in recorded], norms
    else:
        current, current_norms = recorded, [(1.0, 3.0, 2.0)] * N_SEEDS  # the channel sum cannot see it
    meaning, changes = paired_map_change(_stats(recorded, recorded, norms), _stats(current, recorded, current_norms))
    assert meaning == "beyond", [c.describe() for c in changes]
