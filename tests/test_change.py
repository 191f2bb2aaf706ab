"""What a change of a recorded number means: the numeric floor, paired evidence or none, the unpaired
label, and the policies."""

from __future__ import annotations

import math

import pytest

from xai_eval.measure.change import DESCRIPTIONS, POLICIES, fails, most_serious, noise_interval, scalar_change
from xai_eval.measure.spread import Spread, prediction_factor

SPREAD = Spread.of([1.00, 1.02, 0.98, 1.01, 0.99, 1.00])
RECORDED = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00]


def test_the_unpaired_interval_is_the_prediction_bound_widened_to_every_value_seen_and_kept_in_range() -> None:
    low, high = noise_interval(SPREAD)
    half = prediction_factor(6) * SPREAD.relative * abs(SPREAD.mean)
    assert (low, high) == pytest.approx((SPREAD.mean - half, SPREAD.mean + half))
    wide = Spread.of([0.5, 0.9, 0.5, 0.5, 0.5, 0.5])
    assert noise_interval(wide)[1] >= 0.9 and noise_interval(wide)[0] <= 0.5
    loose = Spread.of([0.01, 0.3, 0.02, 0.05, 0.2, 0.04])  # a non-negative number with a wide spread
    assert noise_interval(loose)[0] < 0 and noise_interval(loose, (0.0, math.inf))[0] == 0.0
    assert noise_interval(Spread.of([0.5, -0.9, 0.9, 0.2]), (-1.0, 1.0)) == (-1.0, 1.0)


def test_without_paired_evidence_a_change_is_unknown_whatever_the_unpaired_spread_says() -> None:
    for current in (1.004, 0.96, 1.2, 0.8):  # inside and far outside what another seed gives
        change = scalar_change(1.0, current, SPREAD, rtol=1e-3, atol=1e-6, missing_evidence="rerun it")
        assert change.meaning == "unknown" and change.paired is None
        assert "rerun it; unpaired, not evidence either way: another seed gives" in change.describe()
    assert scalar_change(1.0, 1.0009, SPREAD, rtol=1e-3, atol=1e-6).meaning == "unchanged"


@pytest.mark.parametrize(
    ("current", "meaning"),
    [([v * 1.05 for v in RECORDED], "worse"), ([v * 0.95 for v in RECORDED], "better"),
     ([1.012, 0.995, 1.01, 0.99, 1.004, 0.985], "noise")],  # other draws of the same distribution
    ids=["shifted-up", "shifted-down", "redrawn"],
)
def test_paired_values_decide_what_a_change_means(current: list[float], meaning: str) -> None:
    change = scalar_change(1.0, current[0] if meaning != "noise" else 1.01, SPREAD, rtol=1e-3, atol=1e-6,
                           paired=(RECORDED, current))
    assert change.meaning == meaning and change.paired is not None
    assert "over 6 paired seeds" in change.describe()


def test_a_number_whose_higher_values_are_better_flips_worse_and_better() -> None:
    up = [v * 1.2 for v in RECORDED]
    assert scalar_change(1.0, 1.2, SPREAD, rtol=1e-3, atol=0, lower_is_better=False, paired=(RECORDED, up)).meaning == "better"
    down = [v * 0.8 for v in RECORDED]
    assert scalar_change(1.0, 0.8, SPREAD, rtol=1e-3, atol=0, lower_is_better=False, paired=(RECORDED, down)).meaning == "worse"


def test_no_spread_or_not_a_number_is_unknown_never_unchanged() -> None:
    assert scalar_change(1.0, 1.5, None, rtol=1e-3, atol=0).meaning == "unknown"
    assert scalar_change(1.0, math.nan, SPREAD, rtol=1e-3, atol=0, paired=(RECORDED, RECORDED)).meaning == "unknown"
    assert scalar_change(0.0, 0.0, None, rtol=1e-3, atol=1e-6).meaning == "unchanged"
    assert scalar_change(0.0, 1e-3, None, rtol=1e-3, atol=1e-6).describe().startswith("0 -> 0.001 (from 0")


def test_policies() -> None:
    assert POLICIES[0] == "change"
    for meaning in DESCRIPTIONS:
        assert fails(meaning, "change") == (meaning != "unchanged")
    assert [m for m in DESCRIPTIONS if fails(m, "worse-beyond-noise")] == ["worse", "beyond", "unknown"]


def test_only_paired_evidence_is_called_noise() -> None:
    assert "paired" in DESCRIPTIONS["noise"] and "within" not in DESCRIPTIONS["noise"]
    assert "no paired evidence" in DESCRIPTIONS["unknown"]


def test_a_case_means_what_its_most_serious_check_means() -> None:
    assert most_serious(["unchanged", "noise", "better"]) == "better"
    assert most_serious(["noise", "beyond", "worse"]) == "beyond"
    assert most_serious([]) == "unchanged"


@pytest.mark.parametrize("metric", ["road", "infidelity"])
def test_reruns_that_reproduce_the_record_up_to_rounding_are_no_evidence(metric: str) -> None:
    """What the gate compares: the metric's own floor (ROAD's absolute, infidelity's relative) keeps a rerun
    that differs by rounding of one sign (ROAD's solver: -4e-8 on every seed) from being called a change;
    the same seeds shifted beyond the floor are one."""
    from xai_eval.measure.metrics import METRICS

    spec = METRICS[metric]
    recorded = [0.34, 0.31, 0.36, 0.33, 0.35, 0.32]
    rounded = [v - 4e-8 + 1e-10 * i for i, v in enumerate(recorded)]
    kw = dict(rtol=spec.rtol, atol=spec.atol, lower_is_better=spec.lower_is_better, bounds=spec.bounds)
    beyond_floor_at_seed_0 = recorded[0] * 1.5  # the gate reruns only what moved beyond the floor at seed 0
    assert scalar_change(recorded[0], beyond_floor_at_seed_0, None, paired=(recorded, rounded), **kw).meaning == "noise"
    shifted = [v - 0.05 + 1e-10 * i for i, v in enumerate(recorded)]
    moved = scalar_change(recorded[0], beyond_floor_at_seed_0, None, paired=(recorded, shifted), **kw).meaning
    assert moved == ("better" if spec.lower_is_better else "worse")
