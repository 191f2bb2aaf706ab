"""A gate run split across CI jobs: pytest-split deals out whole cases."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.test_snapshots import SNAPSHOT_SUITE

pytest.importorskip("pytest_split", reason="pytest-split splits the gate into shards: pip install -e '.[shard]'")

SANITY_SUITE = """
import pytest

def test_well_formed(xai_case, xai_record):
    xai_record("well_formed", ok=bool(xai_case.attribution().abs().sum() > 0))

@pytest.mark.xai_one_image
def test_deterministic(xai_case, xai_record):
    xai_record("deterministic", ok=True)
"""
RUNTIME_SUITE = """
import pytest

@pytest.mark.xai_one_image
def test_runtime(xai_case, xai_benchmark):
    xai_benchmark(xai_case)
"""
SHARDS = 3


@pytest.fixture
def suites_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    """The tiny gate with every kind of test a case has: sensitivity, sanity, snapshot, fingerprint, runtime."""
    gate_project.makepyfile(test_snapshot=SNAPSHOT_SUITE, test_sanity=SANITY_SUITE, test_runtime=RUNTIME_SUITE)
    return gate_project


def _collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "::" in line and not line.startswith(("[", "="))]


def _case(nodeid: str) -> str:
    return re.search(r"\[([^\]]+)\]", nodeid).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("algorithm", ["duration_based_chunks", "least_duration"])
def test_pytest_split_deals_out_whole_cases_every_case_once(suites_project: pytest.Pytester, algorithm: str) -> None:
    everything = _collected(suites_project.runpytest("--collect-only", "-q"))
    assert len(everything) == 20  # 4 cases x (sensitivity, well-formed, snapshot, fingerprint) + 2 x (runtime, deterministic)
    durations = {nodeid: 0.1 * (index % 7 + 1) for index, nodeid in enumerate(everything)}  # uneven, as recorded ones are
    (suites_project.path / ".test_durations").write_text(json.dumps(durations))
    shards = []
    for group in range(1, SHARDS + 1):
        result = suites_project.runpytest("--collect-only", "-q", "--splits", str(SHARDS), "--group", str(group),
                                          "--splitting-algorithm", algorithm)
        result.stdout.fnmatch_lines([f"*?pytest-split? Running group {group}/{SHARDS}*"])
        shards.append(_collected(result))
    assert sorted(nodeid for shard in shards for nodeid in shard) == sorted(everything), "every test once"
    owners: dict[str, set[int]] = {}
    for index, shard in enumerate(shards):
        for nodeid in shard:
            owners.setdefault(_case(nodeid), set()).add(index)
    assert len(owners) == 4 and all(len(shard_set) == 1 for shard_set in owners.values()), owners
    assert sum(1 for shard in shards if shard) >= 2, "the cases were shared out"
    first = suites_project.runpytest("--collect-only", "--splits", str(SHARDS), "--group", "1", "--splitting-algorithm", algorithm)
    first.stdout.fnmatch_lines([f"*{len(shards[0])}/20 tests collected ({20 - len(shards[0])} deselected)*"])

