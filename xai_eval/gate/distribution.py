"""How a gate run is shared out among pytest-xdist workers.

Every test of a case (sensitivity, sanity checks, runtime, snapshot, fingerprint) reuses the case's
clean explanation and adapted model, which each process builds once. xdist's default ``--dist load``
deals tests out one by one, so both workers would build most cases: under ``-n 2`` that duplicated
work made the run slower than serial. So each case's tests carry ``xdist_group("xai-case=<id>")`` and,
when ``-n`` is given without a ``--dist`` mode, the run uses ``--dist loadgroup``: a case runs whole on
one worker. An explicit ``--dist`` is kept.

``loadgroup`` appends ``@<group>`` to node ids; :func:`runnable_nodeid` removes it again wherever a node
id is printed as part of a command.
"""

from __future__ import annotations

import re

import pytest

from xai_eval.records.keys import CaseKey

GROUP_PREFIX = "xai-case="
_GROUP_SUFFIX = re.compile(r"@[^@\[\]]*" + re.escape(GROUP_PREFIX) + r"[^@\[\]]*$")


def group_cases_by_default(config: pytest.Config) -> None:
    """``-n N`` without ``--dist``: distribute whole cases (``loadgroup``) instead of single tests."""
    option = config.option
    if getattr(option, "numprocesses", None) and getattr(option, "dist", None) == "no" and not getattr(option, "distload", False):
        option.dist = "loadgroup"


WORKER_INPUT_KEY = "xai_eval_loadgroup"


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
    """Give every test of a case that has no ``xdist_group`` of its own the case's group."""
    for item in items:
        key = getattr(getattr(item, "callspec", None), "params", {}).get("xai_case")
        if isinstance(key, CaseKey) and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group_of(key)))


def runnable_nodeid(nodeid: str) -> str:
    """``nodeid`` without the ``@xai-case=...`` suffix that ``--dist loadgroup`` adds (pytest could not select it)."""
    return _GROUP_SUFFIX.sub("", nodeid)
