"""The pytest plugin (registered through the ``pytest11`` entry point ``xai_eval``).

Thin by design: options come from :mod:`xai_eval.gate.settings`, per-run state lives
in :class:`xai_eval.session.XaiSession`, created once in ``pytest_configure``.
torch is only imported when a suite asks for a case.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import pytest

from xai_eval.gate.baselines import UPDATE_FLAG
from xai_eval.gate.cases import CaseRun
from xai_eval.records.keys import case_id
from xai_eval.errors import DeviceUnavailable, XaiEvalError
from xai_eval.gate.assertions import RESULT_PROPERTY, SANITY_PROPERTY, BaselineGate
from xai_eval.gate.session import XaiSession
from xai_eval.records.results import CaseResult, SanityRecord
from xai_eval.gate.settings import add_options, resolve

SESSION_KEY = pytest.StashKey[XaiSession]()
CONFIG_ERROR_KEY = pytest.StashKey[str]()
MAX_K_SELECTION = 8


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xai_methods(*names): run this suite only for these attribution methods")
    config.addinivalue_line("markers", "xai_one_image: one case per (model, method), on the manifest's first image")
    try:
        session = XaiSession(resolve(config))
    except XaiEvalError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    if not hasattr(config, "workerinput"):  # xdist workers report to the controller
        config.pluginmanager.register(ResultCollector(config, session), "xai-eval-results")


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
    metafunc.parametrize("xai_case", keys, ids=[case_id(key) for key in keys], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config) -> None:
    error = config.stash.get(CONFIG_ERROR_KEY, None)
    if error is not None:
        raise pytest.UsageError(error)


@pytest.fixture
def xai_session(request: pytest.FixtureRequest) -> XaiSession:
    """The run's :class:`~xai_eval.session.XaiSession`."""
    return xai_session_of(request.config)


@pytest.fixture
def xai_case(request: pytest.FixtureRequest, xai_session: XaiSession) -> CaseRun:
    """The (model, method, image) case this test was parametrized with, cached per run."""
    from xai_eval.errors import NotApplicable
    from xai_eval.models.registry import WeightsMissing

    try:
        run = xai_session.run(request.param)
        run.explainer.attributor  # builds the Captum object and the adapted model copy
        return run
    except NotApplicable as exc:
        pytest.skip(f"not applicable: {exc}")
    except WeightsMissing as exc:
        if xai_session.settings.strict_weights:
            pytest.fail(f"{exc} (failing because of --xai-strict-weights)", pytrace=False)
        pytest.skip(str(exc))
    except DeviceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def xai_record(request: pytest.FixtureRequest, xai_case: CaseRun) -> Callable[..., None]:
    """Record a sanity result of this case for the summary and the JSON results: ``xai_record(check, **values)``."""

    def record(check: str, **values: object) -> None:
        request.node.user_properties.append((SANITY_PROPERTY, SanityRecord.of(xai_case, check, values).to_property()))

    return record


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

    machine_info.update(machine_info_extras(xai_session_of(config).settings.device))


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, output_json: dict[str, object]) -> None:
    from xai_eval.gate.benchmark import enrich_json

    enrich_json(output_json, xai_session_of(config))


@pytest.fixture
def xai_baselines(request: pytest.FixtureRequest, xai_session: XaiSession) -> BaselineGate:
    """Asserts a case's value against the baselines file: ``xai_baselines.check(case, value)``."""
    return BaselineGate(request.node, xai_session.baselines, xai_session.settings.update_baselines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.excinfo is not None and isinstance(call.excinfo.value, XaiEvalError):
        report.longrepr = f"{item.nodeid}: {call.excinfo.value}"
    return report


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


class ResultCollector:
    """Gathers case results from test reports (xdist workers included) and acts at the end."""

    def __init__(self, config: pytest.Config, session: XaiSession) -> None:
        self.config = config
        self.xs = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY:
                self.xs.results.append(CaseResult.from_property(value))
            elif name == SANITY_PROPERTY:
                self.xs.sanity.append(SanityRecord.from_property(value, _outcome(report)))

    def pytest_sessionfinish(self) -> None:
        xs = self.xs
        if xs.settings.results is not None and (xs.results or xs.sanity):
            from xai_eval.records.results import write_results

            write_results(xs.settings.results, xs.results, xs.sanity)
        if xs.settings.update_baselines and xs.results:
            from xai_eval.gate.baselines import BaselineStore

            current = BaselineStore.load(xs.settings.baselines)  # xdist's controller never prepared the session
            store, n_updated, n_new = current.updated((r.key, r.value) for r in xs.results)
            store.save()
            xs.update_counts = (n_updated, n_new)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        from xai_eval.gate.summary import aligned, sanity_summary
        from xai_eval.gate.summary import results_table

        xs = self.xs
        tr = terminalreporter
        if xs.sanity:
            tr.section(f"xai-eval sanity (profile {xs.settings.profile})")
            for line in aligned(sanity_summary(xs.sanity)):
                tr.write_line(line)
        if xs.settings.results is not None and (xs.results or xs.sanity):
            tr.write_line(f"xai-eval: results written to {xs.settings.results}")
        if not xs.results:
            return
        tr.section(f"xai-eval max sensitivity (profile {xs.settings.profile})")
        for line in results_table(xs.results):
            tr.write_line(line)
        improved = [r for r in xs.results if r.status == "improved"]
        if improved:
            tr.write_line("")
            tr.write_line(f"{len(improved)} case(s) improved beyond tolerance; tighten their baselines with {UPDATE_FLAG}:")
            for r in improved:
                tr.write_line(f"  {r.nodeid}: {r.value:.6g} (threshold {r.threshold:.6g})")
        if xs.update_counts is not None:
            n_updated, n_new = xs.update_counts
            tr.write_line("")
            tr.write_line(f"xai-eval: baselines written to {xs.settings.baselines}: {n_updated} updated, {n_new} new")
        failing = [r for r in xs.results if r.status in ("regressed", "missing")]
        if failing:
            args = " ".join(self.config.invocation_params.args) or "suites/"
            selection = f" -k '{' or '.join(case_id(r.key) for r in failing)}'" if len(failing) <= MAX_K_SELECTION else ""
            tr.write_line("")
            tr.write_line(
                f"xai-eval: {len(failing)} case(s) outside their baselines; to accept the new values run: "
                f"pytest {args} {UPDATE_FLAG}{selection}"
            )
