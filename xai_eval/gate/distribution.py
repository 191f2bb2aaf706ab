"""How a gate run is shared out among pytest-xdist workers.

Every test of a case (sensitivity, sanity checks, runtime, snapshot, fingerprint) reuses the case's
clean explanation and adapted model, which each process builds once. xdist's default ``--dist load``
deals tests out one by one, so both workers would build most cases: under ``-n 2`` that duplicated
work made the run slower than serial. So each case's tests carry ``xdist_group("xai-case=<key>")``
(unless a test has an ``xdist_group`` of its own) and, in a project that uses xai-eval (a
``[tool.xai_eval]`` table or an ``--xai-*`` option), ``-n`` without a ``--dist`` mode runs with
``--dist loadgroup``: a case runs whole on one worker. Other projects, and an explicit ``--dist``, are
left as they are.

``loadgroup`` appends ``@<group>`` to node ids. xai-eval keeps each test's node id from before that
(:func:`runnable_nodeid`) for the commands it prints, so they can be pasted as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xai_eval.gate.cases import case_key_of
from xai_eval.records.keys import CaseKey

GROUP_PREFIX = "xai-case="
WORKER_INPUT_KEY = "xai_eval_loadgroup"
RUNNABLE_NODEID = pytest.StashKey[str]()


def group_cases_by_default(config: pytest.Config, uses_xai_eval: Callable[[pytest.Config], bool]) -> None:
    """``-n N`` without ``--dist`` in a project that uses xai-eval: distribute whole cases (``loadgroup``)."""
    option = config.option
    bare_n = getattr(option, "numprocesses", None) and getattr(option, "dist", None) == "no" and not getattr(option, "distload", False)
    if bare_n and uses_xai_eval(config):
        option.dist = "loadgroup"


def tell_worker(config: pytest.Config, workerinput: dict[str, object]) -> None:
    """Controller side: whether the run distributes by group. A worker re-parses the command line, where a
    bare ``-n`` still reads ``--dist no``, so it would not append the groups to its node ids."""
    workerinput[WORKER_INPUT_KEY] = getattr(config.option, "dist", None) == "loadgroup"


def listen_as_worker(config: pytest.Config) -> None:
    """Worker side: append the groups to the node ids when the controller distributes by group."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and workerinput.get(WORKER_INPUT_KEY):
        config.option.loadgroup = True


def group_of(key: CaseKey) -> str:
    return f"{GROUP_PREFIX}{key}"


def mark_case_groups(items: list[pytest.Item]) -> None:
    """Keep every test's node id as pytest can select it, and give every test of a case that has no
    ``xdist_group`` of its own the case's group. Runs before xdist appends the groups to the node ids."""
    for item in items:
        item.stash[RUNNABLE_NODEID] = item.nodeid
        key = case_key_of(item)
        if key is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group_of(key)))


def runnable_nodeid(item: pytest.Item) -> str:
    """``item``'s node id without any ``@group`` suffix of ``--dist loadgroup`` (pytest could not select it)."""
    return item.stash.get(RUNNABLE_NODEID, item.nodeid)
