"""How a gate run is split across CI jobs by pytest-split, whole cases at a time.

pytest-split (``--splits N --group i``, the ``shard`` extra) divides the collected tests into N shards by
the durations it recorded (``--store-durations``), so that N jobs of a CI matrix each run a share. It deals
out single tests, so the tests of one case (sensitivity, sanity checks, runtime, snapshot, fingerprint) could
land in several shards, each building the case's clean explanation and adapted model again. So, in a
project that uses xai-eval, xai-eval hands pytest-split's own collection hook one test per case, weighted
by the recorded durations of all the case's tests, and then keeps or deselects the rest of each case with
it. Durations file, algorithms and messages stay pytest-split's; a test that is not a case is its own
group, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pytest

from xai_eval.gate.distribution import GROUP_PREFIX, case_key_of, runnable_nodeid

SPLIT_PLUGIN = "pytestsplitplugin"
"""The name pytest-split registers its splitting plugin under when ``--splits`` and ``--group`` are given."""


def shard_of(config: pytest.Config) -> dict[str, int] | None:
    """``{"group": i, "splits": N}`` when pytest-split runs one shard of N, else None."""
    splits, group = getattr(config.option, "splits", None), getattr(config.option, "group", None)
    return {"group": group, "splits": splits} if splits and group else None


def split_whole_cases(config: pytest.Config, uses_xai_eval: Callable[[pytest.Config], bool]) -> None:
    """Put :class:`CaseSplit` in place of pytest-split's plugin (if it splits this run and the project uses
    xai-eval). Called at session start, when every plugin is configured and nothing is collected yet."""
    split = config.pluginmanager.get_plugin(SPLIT_PLUGIN)
    if split is None or not uses_xai_eval(config):
        return
    config.pluginmanager.unregister(split)
    config.pluginmanager.register(CaseSplit(split), "xai-eval-case-split")


def _runnable(nodeid: str) -> str:
    """A recorded node id without the ``@xai-case=...`` suffix of a ``-n`` run (``--store-durations`` under xdist)."""
    return nodeid.split(f"@{GROUP_PREFIX}", 1)[0]


class CaseSplit:
    """pytest-split's collection hook, fed one leader test per case."""

    def __init__(self, split: Any) -> None:
        self.split = split

    @pytest.hookimpl(trylast=True)  # where pytest-split's own hook runs: after -k, -m and other plugins
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        groups: dict[object, list[pytest.Item]] = {}
        for item in items:
            key = case_key_of(item)
            groups.setdefault(item.nodeid if key is None else key, []).append(item)
        leaders = [members[0] for members in groups.values()]
        recorded = self.split.cached_durations
        try:
            self.split.cached_durations = self._case_durations(groups.values(), recorded)
            self.split.pytest_collection_modifyitems(config, leaders)  # leaders becomes this shard's leaders
        finally:
            self.split.cached_durations = recorded
        chosen = {id(leader) for leader in leaders}
        kept = {id(item) for members in groups.values() if id(members[0]) in chosen for item in members}
        followers = [item for members in groups.values() if id(members[0]) not in chosen for item in members[1:]]
        items[:] = [item for item in items if id(item) in kept]
        if followers:  # pytest-split reported the leaders of the other shards' cases as deselected
            config.hook.pytest_deselected(items=followers)

    @staticmethod
    def _case_durations(groups: Collection[list[pytest.Item]], recorded: dict[str, float]) -> dict[str, float]:
        """Each group's leader -> the summed recorded durations of its tests; a test without a recorded duration
        counts as the average of those recorded (pytest-split's rule), or 1 s when none is."""
        durations = {_runnable(nodeid): seconds for nodeid, seconds in recorded.items()}
        known = [durations[runnable_nodeid(item)] for members in groups for item in members if runnable_nodeid(item) in durations]
        average = sum(known) / len(known) if known else 1.0
        return {members[0].nodeid: sum(durations.get(runnable_nodeid(item), average) for item in members) for members in groups}
