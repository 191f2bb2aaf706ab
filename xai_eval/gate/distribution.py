"""How a gate run is shared out among pytest-xdist workers.

Every test of a case (sensitivity, sanity checks, runtime, snapshot, fingerprint) reuses the case's
clean explanation and adapted model, which each process builds once. xdist's default ``--dist load``
deals tests out one by one, so both workers would build most cases: under ``-n 2`` that duplicated
work made the run slower than serial. So each case's tests carry ``xdist_group("xai-case=<key>")``
(unless a test has an ``xdist_group`` of its own) and, in a project that uses xai-eval (a
``[tool.xai_eval]`` table or an ``--xai-*`` option), ``-n`` without a ``--dist`` mode runs with
``--dist loadgroup``: a case runs whole on one worker. Other projects, and an explicit ``--dist``, are
left as they are.

``loadgroup`` appends ``@<group>`` to node ids on the workers: that suffix is how the controller learns
the groups. pytest 9.2 keeps a node id in a structured form that pytest-xdist 3.8 does not update, so
there the suffix would be lost and every test dealt out alone; :func:`add_missing_group_suffixes` appends
it where xdist could not (nothing to do with an xdist that did). xai-eval keeps each test's node id from
before that (:func:`runnable_nodeid`) for the commands it prints, so they can be pasted as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest

from xai_eval.records.keys import CaseKey

GROUP_PREFIX = "xai-case="
WORKER_INPUT_KEY = "xai_eval_loadgroup"
RUNNABLE_NODEID = pytest.StashKey[str]()


def case_key_of(item: object) -> CaseKey | None:
    """The case a pytest item was parametrized with (``xai_case``), or None for any other test."""
    key = getattr(getattr(item, "callspec", None), "params", {}).get("xai_case")
    return key if isinstance(key, CaseKey) else None


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


def group_suffix(item: pytest.Item) -> str:
    """``@<group>`` as ``--dist loadgroup`` appends it ('' for a test without ``xdist_group``)."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default")) for mark in item.iter_markers("xdist_group")}
    return f"@{'_'.join(sorted(names))}" if names else ""


def add_missing_group_suffixes(
    config: pytest.Config, items: list[pytest.Item], uses_xai_eval: Callable[[pytest.Config], bool]
) -> None:
    """Worker side, after xdist's own hook: append ``@<group>`` to every grouped test whose node id xdist
    left unchanged, so the controller still deals out whole groups (see the module's docstring)."""
    on_worker = getattr(config, "workerinput", None) is not None
    if not (on_worker and getattr(config.option, "loadgroup", False) and uses_xai_eval(config)):
        return
    for item in items:
        suffix = group_suffix(item)
        if suffix and item.nodeid == item.stash.get(RUNNABLE_NODEID, None):
            _set_nodeid(item, item.nodeid + suffix)
            if item.nodeid != item.stash[RUNNABLE_NODEID] + suffix:
                warnings.warn(pytest.PytestWarning(
                    "xai-eval: this pytest keeps node ids where neither pytest-xdist nor xai-eval can add the"
                    " xdist_group; -n then deals out single tests, so cases are built on several workers"
                ))
                return


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    """Rename ``item`` as xdist does: pytest >= 9.2 keeps a structured ``_id``, earlier ones a ``_nodeid``."""
    structured = getattr(item, "_id", None)
    if structured is not None and hasattr(type(structured), "parse"):
        item._id = type(structured).parse(nodeid)  # type: ignore[attr-defined]
    else:
        item._nodeid = nodeid  # type: ignore[attr-defined]


def runnable_nodeid(item: pytest.Item) -> str:
    """``item``'s node id without any ``@group`` suffix of ``--dist loadgroup`` (pytest could not select it)."""
    return item.stash.get(RUNNABLE_NODEID, item.nodeid)
