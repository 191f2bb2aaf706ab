"""The pytest plugin (registered through the ``pytest11`` entry point ``xai_eval``).

Thin by design: options come from :mod:`xai_eval.config.settings`, per-run state lives
in :class:`xai_eval.engine.session.XaiSession`, created once in ``pytest_configure``, and the
end of the run (results file, baseline update, summary) in :mod:`xai_eval.gate.collector`.
torch is only imported when a suite asks for a case.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Generator

import pytest

from xai_eval.errors import DeviceUnavailable, Inconclusive, NotApplicable, XaiEvalError
from xai_eval.gate.assertions import (
    ACCEPTED_PROPERTY, CASE_PROPERTY, METRIC_PROPERTY, SANITY_PROPERTY, BaselineGate, SnapshotGate,
)
from xai_eval.engine.cases import CaseRun
from xai_eval.gate.collector import ResultCollector
from xai_eval.gate.distribution import (
    case_key_of,
    add_missing_group_suffixes,
    group_cases_by_default,
    listen_as_worker,
    mark_case_groups,
    runnable_nodeid,
    tell_worker,
)
from xai_eval.measure.metrics import OWN_TESTS
from xai_eval.engine.session import XaiSession
from xai_eval.gate.sharding import shard_of, split_whole_cases
from xai_eval.config.settings import check_outputs
from xai_eval.gate.options import add_options, settings_of, uses_xai_eval
from xai_eval.records.keys import case_id
from xai_eval.records.results import SanityRecord

SESSION_KEY = pytest.StashKey[XaiSession]()
CONFIG_ERROR_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config: pytest.Config) -> Generator[None, object, object]:
    group_cases_by_default(config, uses_xai_eval)  # before xdist turns a bare -n into --dist load
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xai_methods(*names): run this suite only for these attribution methods")
    config.addinivalue_line("markers", "xai_one_image: one case per (model, method), on the manifest's first image")
    config.addinivalue_line(
        "markers", "xai_metric(name): this test gates the metric NAME; it runs only in profiles whose metrics list it"
    )
    # every case carries its xdist_group (whole cases on one worker); without pytest-xdist the mark is unknown
    config.addinivalue_line("markers", "xdist_group(name): the xdist group of a gate case's tests (pytest-xdist's)")
    workerinput = getattr(config, "workerinput", None)
    try:
        settings = settings_of(config)
        if workerinput is None and not config.option.collectonly:  # the controller writes the files
            check_outputs(settings)
    except XaiEvalError as exc:
        raise pytest.UsageError(str(exc)) from None
    listen_as_worker(config)
    workers = int(workerinput["workercount"]) if workerinput else _xdist_workers(config)
    session = XaiSession(settings, workers=workers, shard=shard_of(config))
    config.stash[SESSION_KEY] = session
    if workerinput is None:  # xdist workers report to the controller
        config.pluginmanager.register(ResultCollector(config, session), "xai-eval-results")


def pytest_sessionstart(session: pytest.Session) -> None:
    split_whole_cases(session.config, uses_xai_eval)  # pytest-split (--splits N --group i) deals out whole cases


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    tell_worker(node.config, node.workerinput)  # type: ignore[attr-defined]


def _xdist_workers(config: pytest.Config) -> int:
    """How many xdist workers the controller will start (1 without xdist)."""
    n = getattr(config.option, "numprocesses", None)
    return n if isinstance(n, int) and n > 0 and getattr(config.option, "dist", "no") != "no" else 1


def xai_session_of(config: pytest.Config) -> XaiSession:
    return config.stash[SESSION_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "xai_case" not in metafunc.fixturenames:
        return
    session = xai_session_of(metafunc.config)
    try:
        keys = session.case_keys()
    except XaiEvalError as exc:
        metafunc.config.stash[CONFIG_ERROR_KEY] = str(exc)
        keys = []
    marker = metafunc.definition.get_closest_marker("xai_methods")
    if marker is not None:
        keys = [key for key in keys if key.method in marker.args]
    if metafunc.definition.get_closest_marker("xai_one_image") is not None and session.images:
        keys = [key for key in keys if key.image == session.images[0].id]
    gated = metafunc.definition.get_closest_marker("xai_metric")
    metrics = session.profile.metrics if keys else ()
    if gated is not None and not set(gated.args) & set(metrics):
        keys = []  # a test of a metric this profile does not run
    metafunc.parametrize("xai_case", keys, ids=[case_id(key) for key in keys], indirect=True)
    if "xai_metric" in metafunc.fixturenames:
        names = [name for name in metrics if name not in OWN_TESTS]
        metafunc.parametrize("xai_metric", names, ids=names)


@pytest.hookimpl(wrapper=True, tryfirst=True)  # around xdist's hook that appends the groups to the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> Generator[None, None, None]:
    error = config.stash.get(CONFIG_ERROR_KEY, None)
    if error is not None:
        raise pytest.UsageError(error)
    mark_case_groups(items)
    _skip_what_a_checkpoint_recorded(config, items)
    yield
    add_missing_group_suffixes(config, items, uses_xai_eval)


def _skip_what_a_checkpoint_recorded(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A recording resumed after an interruption runs only the tests its checkpoint does not hold (the collector
    adds their records back): each process reads the checkpoint, xdist's workers included."""
    settings = xai_session_of(config).settings
    if not settings.update_baselines:
        return
    from xai_eval.gate.collector import recording_signature
    from xai_eval.stores.checkpoint import Checkpoint

    done = Checkpoint.resume(settings.baselines.parent, recording_signature(config, xai_session_of(config)))[0].tests
    kept = [item for item in items if runnable_nodeid(item) not in done]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if runnable_nodeid(item) in done])
        items[:] = kept


@pytest.fixture
def xai_session(request: pytest.FixtureRequest) -> XaiSession:
    """The run's :class:`~xai_eval.engine.session.XaiSession`."""
    return xai_session_of(request.config)


@pytest.fixture
def xai_case(request: pytest.FixtureRequest, xai_session: XaiSession) -> CaseRun:
    """The (model, method, image) case this test was parametrized with, cached per run.

    A case that cannot run here (no such device, no weights, method not applicable) is skipped with
    its reason; ``--xai-strict`` turns every such skip into a failure.
    """
    from xai_eval.models.registry import WeightsMissing

    try:
        run = xai_session.run(request.param)
        run.explainer.attributor  # builds the Captum object and the adapted model copy
        return run
    except NotApplicable as exc:
        pytest.skip(f"not applicable: {exc}")
    except WeightsMissing as exc:
        if xai_session.settings.strict_weights and not xai_session.settings.strict:
            pytest.fail(f"{exc} (failing because of --xai-strict-weights)", pytrace=False)
        pytest.skip(f"missing weights: {exc}")
    except DeviceUnavailable as exc:
        pytest.skip(f"missing device: {exc}")


@pytest.fixture
def xai_record(request: pytest.FixtureRequest, xai_case: CaseRun) -> Callable[..., None]:
    """Record a sanity result of this case for the summary and the JSON results: ``xai_record(check, **values)``."""

    def record(check: str, **values: object) -> None:
        request.node.user_properties.append((SANITY_PROPERTY, SanityRecord.of(xai_case, check, values).to_property()))

    return record


@pytest.fixture
def xai_sanity(request: pytest.FixtureRequest, xai_session: XaiSession,
               xai_record: Callable[..., None]) -> Callable[[CaseRun, str], None]:
    """Runs one sanity check of :mod:`xai_eval.engine.sanity` on a case, records its numbers and enforces its
    verdict: ``xai_sanity(xai_case, "completeness")``. A known failure (``known_failures.json`` beside the
    baselines) runs as a strict xfail, a shipped one as a plain xfail (a pass is an XPASS, with no entry to
    remove); under ``--xai-accept-failures REASON`` a failure is recorded as known with that reason."""
    from xai_eval.engine.sanity import run_check
    from xai_eval.stores.known_failures import ACCEPT_OPTION, is_strict

    def check(case: CaseRun, name: str) -> None:
        __tracebackhide__ = True
        reason, where = xai_session.known.reason(case.key, name)
        strict = is_strict(where)
        if reason:
            request.applymarker(pytest.mark.xfail(strict=strict, raises=AssertionError, reason=(
                f"known failure ({where}): {reason}" + ("; if it passes, remove its entry" if strict else ""))))
        outcome = run_check(case, name, reason, strict=strict)
        xai_record(name, **outcome.values)
        if outcome.verdict.outcome != "fail" or reason:
            outcome.verdict.enforce(case.id)
            return
        accept = xai_session.settings.accept_failures
        if accept:
            request.node.user_properties.append((ACCEPTED_PROPERTY, [case.key.to_list(), name]))
            pytest.xfail(f"accepted as a known failure ({accept}): {case.id}: {outcome.verdict.message}")
        from xai_eval.gate.collector import xai_options

        command = shlex.join(["pytest", *xai_options(list(request.config.invocation_params.args)),
                              runnable_nodeid(request.node), ACCEPT_OPTION, "why it is accepted"])
        raise AssertionError(f"{case.id}: {outcome.verdict.message}; if this failure is known and accepted, record it "
                             f"with: {command}")

    return check


@pytest.fixture
def xai_benchmark(request: pytest.FixtureRequest, xai_session: XaiSession) -> Callable[[CaseRun], None]:
    """Times one attribution call of a case with pytest-benchmark: ``xai_benchmark(xai_case)``."""
    from xai_eval.gate.benchmark import time_attribution

    benchmark = request.getfixturevalue("benchmark")
    rounds = xai_session.settings.benchmark_rounds

    def run(case: CaseRun) -> None:
        time_attribution(benchmark, case, rounds=rounds)

    return run


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, object]) -> None:
    from xai_eval.gate.benchmark import machine_info_extras

    machine_info.update(machine_info_extras(xai_session_of(config)))


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, output_json: dict[str, object]) -> None:
    from xai_eval.gate.benchmark import enrich_json

    enrich_json(output_json, xai_session_of(config))


@pytest.fixture
def xai_baselines(request: pytest.FixtureRequest, xai_session: XaiSession) -> BaselineGate:
    """Asserts a case's value against its metric's baselines: ``xai_baselines.check(case, value)`` (max
    sensitivity), ``xai_baselines.check_metric(case, metric)`` (computes a registered metric, then checks it).
    A test that asks for ``xai_metric`` is parametrized with every metric of the profile except those with a
    test of their own (max sensitivity: ``suites/test_sensitivity.py``)."""
    return BaselineGate(request.node, xai_session)


@pytest.fixture
def xai_snapshots(request: pytest.FixtureRequest, xai_session: XaiSession) -> SnapshotGate:
    """Asserts a case's explanation against its snapshot and the model against its fingerprint:
    ``xai_snapshots.check_snapshot(case)``, ``xai_snapshots.check_fingerprint(case)``."""
    return SnapshotGate(request.node, xai_session)


class InconclusiveSkip(pytest.skip.Exception):  # type: ignore[misc,name-defined]
    """How a test reports :class:`~xai_eval.errors.Inconclusive`: a skip (its reason starts with ``inconclusive:``)."""


InconclusiveSkip.__name__ = InconclusiveSkip.__qualname__ = "Inconclusive"


def _inconclusive_is_a_skip() -> Generator[None, object, object]:
    """A check that ran and could not decide is a visible skip, never a pass (nor a failure)."""
    try:
        return (yield)
    except Inconclusive as exc:
        raise InconclusiveSkip(str(exc), _use_item_location=True) from None


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    return (yield from _inconclusive_is_a_skip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _inconclusive_is_a_skip())  # raised by a fixture


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _inconclusive_is_a_skip())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None and isinstance(call.excinfo.value, XaiEvalError):
        report.longrepr = f"{runnable_nodeid(item)}: {call.excinfo.value}"
    key = case_key_of(item)
    if key is None:  # not an xai-eval case (or a suite whose marker selected none)
        return report
    report.user_properties.append((CASE_PROPERTY, key.to_list()))
    metric = item.callspec.params.get("xai_metric")  # type: ignore[attr-defined]
    if isinstance(metric, str):
        report.user_properties.append((METRIC_PROPERTY, metric))
    strict = xai_session_of(item.config).settings.strict
    if strict and report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if call.excinfo is not None and call.excinfo.typename == "Inconclusive":
            return report  # the check ran and could not decide: counted in the summary, never a pass
        report.outcome = "failed"
        report.longrepr = f"{runnable_nodeid(item)}: {reason} (failing because of --xai-strict: a configured case must run)"
    return report
