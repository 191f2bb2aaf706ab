"""On the committed quick baselines, the paired test sees the changes an unpaired interval called noise: every
case's infidelity doubled, ROAD gap with its sign flipped and max sensitivity x1.5, computed from the committed
files' recorded seeds as a rerun would give them (the same draws, the number changed). A ROAD gap whose expected
value is 0 (its seeds' mean is not distinguishable from 0) has no sign to flip: flipping it moves no expected
value, and it is called no evidence; every other case's flip is seen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xai_eval.measure.metrics import METRICS
from xai_eval.records.keys import CaseKey
from xai_eval.stores.baselines import BaselineStore

BASELINES = Path(__file__).resolve().parents[1] / "fixtures" / "baselines"
CHANGES = [("infidelity", 2.0), ("road", -1.0), ("max_sensitivity", 1.5)]


def _entries(metric: str) -> dict[CaseKey, object]:
    store = BaselineStore.load(BASELINES / f"{metric}.json", metric)
    return {key: entry for key, entry in store.entries.items() if key.profile == "quick"}


@pytest.mark.parametrize(("metric", "factor"), CHANGES, ids=[m for m, _ in CHANGES])
def test_a_changed_number_is_a_change_in_every_committed_case(metric: str, factor: float) -> None:
    spec = METRICS[metric]
    entries = _entries(metric)
    assert len(entries) == 24
    meanings = {}
    at_zero = set()
    for key, entry in entries.items():
        recorded = entry.paired_values()
        assert len(recorded) == 6, f"{key}: the committed baselines record 6 seeds"
        seeds = sorted(recorded)
        paired = ([recorded[s] for s in seeds], [recorded[s] * factor for s in seeds])
        change = entry.compare(entry.value * factor, rtol=spec.rtol, atol=spec.atol, lower_is_better=spec.lower_is_better,
                               bounds=spec.bounds, paired=paired)
        meanings[key] = change.meaning
        if factor < 0 and _indistinguishable_from_zero(paired[0]):
            at_zero.add(key)
            assert change.meaning == "noise", f"{key}: a gap at 0 flipped moves nothing: {change.describe()}"
            continue
        # a flipped gap that was negative (a reversed ranking, Guided Backprop's) is better once flipped: still a change
        expected = {"worse"} if factor > 0 or entry.value > 0 else {"better"}
        assert change.meaning in expected, f"{key}: {change.describe()}: {change.meaning}"
    assert len(at_zero) <= 2, f"gaps at 0: {sorted(map(str, at_zero))}"
    print(metric, sorted(set(meanings.values())), "gaps at 0:", sorted(map(str, at_zero)))


def _indistinguishable_from_zero(values: list[float]) -> bool:
    """Whether the seeds' mean is within the 99 % interval of 0 (one-sample t): an expected value of about 0."""
    import math
    import statistics

    from xai_eval.measure.paired import ALPHA, t_quantile

    half = t_quantile(1 - ALPHA / 2, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return abs(statistics.fmean(values)) <= half


def test_the_committed_files_are_what_the_tool_writes() -> None:
    for path in sorted(BASELINES.glob("*.json")):
        data = json.loads(path.read_text())
        store = BaselineStore.load(path, data["metric"])
        assert json.dumps(store.to_json(), indent=2) + "\n" == path.read_text(), path.name
