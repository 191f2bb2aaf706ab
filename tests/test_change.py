"""What a change of a recorded number means: the numeric floor, the seed spread, and the policies."""

from __future__ import annotations

import math

import pytest

from xai_eval.measure.change import DESCRIPTIONS, POLICIES, fails, most_serious, noise_interval, scalar_change
from xai_eval.measure.spread import Spread, prediction_factor

SPREAD = Spread.of([1.00, 1.02, 0.98, 1.01, 0.99, 1.00])


def test_the_noise_interval_is_the_prediction_bound_widened_to_every_value_seen() -> None:
    low, high = noise_interval(SPREAD)
    half = prediction_factor(6) * SPREAD.relative * abs(SPREAD.mean)
    assert (low, high) == pytest.approx((SPREAD.mean - half, SPREAD.mean + half))
    wide = Spread.of([0.5, 0.9, 0.5, 0.5, 0.5, 0.5])
    assert noise_interval(wide)[1] >= 0.9 and noise_interval(wide)[0] <= 0.5


@pytest.mark.parametrize(
    ("current", "meaning", "sign"),
    [(1.0, "unchanged", 0), (1.0009, "unchanged", 0), (1.004, "noise", 1), (0.96, "noise", -1), (1.2, "worse", 1),
     (0.8, "better", -1)],
)
def test_scalar_changes_are_classified_against_the_seed_spread(current: float, meaning: str, sign: int) -> None:
    change = scalar_change(1.0, current, SPREAD, rtol=1e-3, atol=1e-6)
    assert change.meaning == meaning
    if sign:
        assert change.sds is not None and math.copysign(1, change.sds) == sign
        assert change.sds == pytest.approx((current - 1.0) / (SPREAD.relative * SPREAD.mean))
        assert "sd of the seed spread; another seed gives" in change.describe()
    else:
        assert change.sds is None


def test_a_number_whose_higher_values_are_better_flips_worse_and_better() -> None:
    assert scalar_change(1.0, 1.2, SPREAD, rtol=1e-3, atol=0, lower_is_better=False).meaning == "better"
    assert scalar_change(1.0, 0.8, SPREAD, rtol=1e-3, atol=0, lower_is_better=False).meaning == "worse"


def test_no_spread_or_not_a_number_is_unknown_never_unchanged() -> None:
    assert scalar_change(1.0, 1.5, None, rtol=1e-3, atol=0).meaning == "unknown"
    assert scalar_change(1.0, math.nan, SPREAD, rtol=1e-3, atol=0).meaning == "unknown"
    assert scalar_change(0.0, 0.0, None, rtol=1e-3, atol=1e-6).meaning == "unchanged"
    assert scalar_change(0.0, 1e-3, None, rtol=1e-3, atol=1e-6).describe().startswith("0 -> 0.001 (from 0")


def test_policies() -> None:
    assert POLICIES[0] == "change"
    for meaning in DESCRIPTIONS:
        assert fails(meaning, "change") == (meaning != "unchanged")
    assert [m for m in DESCRIPTIONS if fails(m, "worse-beyond-noise")] == ["worse", "beyond", "unknown"]


def test_a_case_means_what_its_most_serious_check_means() -> None:
    assert most_serious(["unchanged", "noise", "better"]) == "better"
    assert most_serious(["noise", "beyond", "worse"]) == "beyond"
    assert most_serious([]) == "unchanged"
