"""The end of a gate run: gather case results (xdist workers included), write the results file and
the baselines, print the summary, and refuse a run in which every case skipped."""

from __future__ import annotations

import re
import shlex


import pytest

from xai_eval.gate.summary import excluded
from xai_eval.gate.assertions import (
    ACCEPTED_PROPERTY, CASE_PROPERTY, METRIC_PROPERTY, RESULT_PROPERTY, SANITY_PROPERTY, SNAPSHOT_PROPERTY,
)
from xai_eval.stores.baselines import UPDATE_FLAG
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.engine.session import XaiSession
from xai_eval.records.keys import CaseKey
from xai_eval.records.results import CaseResult, SanityRecord, SnapshotResult

RECORDS = (RESULT_PROPERTY, SNAPSHOT_PROPERTY, SANITY_PROPERTY, ACCEPTED_PROPERTY)
"""The user properties a checkpoint keeps of a finished test."""
_FLAGS = {"--xai-update-baselines", "--xai-strict", "--xai-strict-weights", "--xai-paired-reruns"}
_DROPPED = {"--xai-update-baselines", "--xai-calibrate", "--xai-accept-failures"}


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    return report.outcome


def recording_signature(config: pytest.Config, session: XaiSession) -> str:
    """What a recording's checkpoint must share to be resumed: the settings that decide the numbers, the same
    selection (paths, ``-k``, ``-m``, ``--xai-*`` options; not options such as ``--basetemp`` that vary between
    runs of one command), and the xai-eval code that computes them."""
    import hashlib
    from pathlib import Path

    from xai_eval.stores.checkpoint import signature

    package = Path(__file__).resolve().parent.parent
    code = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(package.rglob("*.py")))).hexdigest()[:16]
    selection = {"paths": [str(arg) for arg in config.args], "k": config.getoption("keyword", ""),
                 "m": config.getoption("markexpr", ""),
                 "xai": xai_options([str(arg) for arg in config.invocation_params.args])}
    return signature({**session.settings.recording_identity(), "selection": selection, "code": code,
                      "threads": session.threads, "resnet18_weights": session.settings.resnet18_weights})


def skip_reason(report: pytest.TestReport) -> str:
    """The skip's reason without pytest's ``Skipped: `` (or ``Inconclusive: ``) prefix."""
    longrepr = report.longrepr
    text = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    return re.sub(r"^[\w.]*(Skipped|Inconclusive): ", "", text)


def xai_options(args: list[str]) -> list[str]:
    """The ``--xai-*`` options of a command line (with their values), less those that write baselines."""
    kept: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name = arg.split("=", 1)[0]
        takes_value = name.startswith("--xai-") and name not in _FLAGS and "=" not in arg
        if name.startswith("--xai-") and name not in _DROPPED:
            kept.append(arg)
            if takes_value and index + 1 < len(args):
                kept.append(args[index + 1])
        index += 2 if takes_value else 1
    return kept


WITNESSES = {"test_max_sensitivity": "sensitivity", "test_snapshot": "snapshot", "test_fingerprint": "fingerprint"}


def witness_of(nodeid: str, when: str) -> str:
    """Which check a failing report of a case is: sensitivity, snapshot, fingerprint or ``sanity (NAME)``;
    ``setup`` when the case could not even be built (bad model, method that raises)."""
    if when != "call":
        return "setup"
    function = nodeid.rsplit("::", 1)[-1].split("[", 1)[0]
    return WITNESSES.get(function, f"sanity ({function.removeprefix('test_')})")


class ResultCollector:
    """Gathers case results from test reports and acts at the end of the run."""

    def __init__(self, config: pytest.Config, session: XaiSession) -> None:
        self.config = config
        self.xs = session
        self.case_outcomes: dict[str, str] = {}
        self.skips: dict[str, str] = {}
        self.accepted: list[tuple[CaseKey, str]] = []
        """Sanity failures accepted as known in this run (``--xai-accept-failures``)."""
        self.accepted_count: int | None = None
        self.witnesses: dict[CaseKey, list[str]] = {}
        """Per failing case, the checks that caught it (in test order)."""
        self.checkpoint = None
        self.resumed = ""
        if session.settings.update_baselines:  # a recording: keep what each finished test recorded
            from xai_eval.stores.checkpoint import Checkpoint

            self.checkpoint, self.resumed = Checkpoint.resume(session.settings.baselines.parent,
                                                              recording_signature(config, session))
            for outcome, properties in self.checkpoint.tests.values():
                self._records(properties, outcome)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        is_case = any(name == CASE_PROPERTY for name, _ in report.user_properties)
        if is_case and report.when in ("setup", "call"):
            outcome = _outcome(report)
            if outcome == "skipped":
                self.skips[report.nodeid] = skip_reason(report)
            if report.when == "call" or outcome != "passed":
                self.case_outcomes[report.nodeid] = outcome
        if is_case and report.failed:
            key = CaseKey(*next(value for name, value in report.user_properties if name == CASE_PROPERTY))
            metric = next((value for name, value in report.user_properties if name == METRIC_PROPERTY), None)
            witness = metric if metric is not None and report.when == "call" else witness_of(report.nodeid, report.when)
            if witness not in self.witnesses.setdefault(key, []):
                self.witnesses[key].append(witness)
        if report.when != "call":
            return
        self._records(report.user_properties, _outcome(report))
        if self.checkpoint is not None and is_case and _outcome(report) in ("passed", "xfailed"):
            # a test that failed is not kept: a resumed run runs it again, and fails as the first run would
            kept = [[name, value] for name, value in report.user_properties if name in RECORDS]
            self.checkpoint.add(report.nodeid.split("@xai-case=", 1)[0], [_outcome(report), kept])

    def _records(self, properties: list[tuple[str, object]] | list[list[object]], outcome: str) -> None:
        for name, value in properties:
            if name == SNAPSHOT_PROPERTY:
                self.xs.snapshot_results.append(SnapshotResult.from_property(value))
            elif name == RESULT_PROPERTY:
                self.xs.results.append(CaseResult.from_property(value))
            elif name == SANITY_PROPERTY:
                self.xs.sanity.append(SanityRecord.from_property(value, outcome))
            elif name == ACCEPTED_PROPERTY:
                self.accepted.append((CaseKey(*value[0]), value[1]))

    @property
    def all_skipped(self) -> bool:
        return bool(self.case_outcomes) and all(outcome == "skipped" for outcome in self.case_outcomes.values())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        xs = self.xs
        if self.checkpoint is not None and session.exitstatus == pytest.ExitCode.INTERRUPTED:
            self.resumed = (f"interrupted: nothing written; {len(self.checkpoint.tests)} finished test(s) kept in "
                            f"{self.checkpoint.path}, which the same command resumes")
            return
        if xs.settings.results is not None and (xs.results or xs.sanity or xs.snapshot_results):
            from xai_eval.records.results import write_results

            write_results(xs.settings.results, xs.results, xs.sanity, xs.run_info(), xs.snapshot_results)
        # the files are read here, not from the session: xdist's controller never prepared it
        if xs.settings.update_baselines and xs.results:
            from xai_eval.stores.recording import record_baselines

            xs.update_counts = record_baselines(xs.settings.baselines, xs.results)
        if xs.settings.update_baselines and xs.snapshot_results:
            from xai_eval.stores.recording import record_snapshots

            xs.snapshot_counts = record_snapshots(xs.settings.snapshots_folder, xs.snapshot_results)
        if xs.settings.accept_failures and self.accepted:
            from xai_eval.stores.known_failures import KnownFailures

            known, self.accepted_count = KnownFailures.load(xs.settings.known_failures_file).accepted(
                self.accepted, xs.settings.accept_failures)
            known.save()
        if self.checkpoint is not None:
            self.checkpoint.remove()  # recorded into the files: nothing left to resume
        if self.all_skipped and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        from xai_eval.gate.summary import (
            aligned, changes_summary, loose_cases, metrics_table, prediction_changes, results_table, sanity_summary,
            skip_counts,
        )

        xs = self.xs
        tr = terminalreporter
        if xs.sanity:
            tr.section(f"xai-eval sanity (profile {xs.settings.profile})")
            for line in aligned(sanity_summary(xs.sanity)):
                tr.write_line(line)
        if xs.settings.results is not None and (xs.results or xs.sanity or xs.snapshot_results):
            tr.write_line(f"xai-eval: results written to {xs.settings.results}")
        sensitivity = [r for r in xs.results if r.metric == MAX_SENSITIVITY]
        others = [r for r in xs.results if r.metric != MAX_SENSITIVITY]
        if sensitivity:
            tr.section(f"xai-eval max sensitivity (profile {xs.settings.profile}, seed {xs.settings.seed})")
            for line in results_table(sensitivity):
                tr.write_line(line)
        if others:
            tr.section(f"xai-eval metrics (profile {xs.settings.profile}, seed {xs.settings.seed})")
            for line in metrics_table(others):
                tr.write_line(line)
            for line in prediction_changes(others):
                tr.write_line(line)
        if xs.results:
            for line in loose_cases(xs.results, xs.settings.baselines):
                tr.write_line(line)
            calibrated = f", calibrated under {xs.settings.calibrate} other seeds" if xs.settings.calibrate else ""
            if xs.update_counts:
                tr.write_line("")
            for path, n_updated, n_new in xs.update_counts.values():
                tr.write_line(f"xai-eval: baselines written to {path}: {n_updated} updated, {n_new} new{calibrated}")
        if xs.snapshot_counts is not None:
            n_updated, n_new = xs.snapshot_counts
            tr.write_line(f"xai-eval: snapshots written to {xs.settings.snapshots_folder}: {n_updated} updated, {n_new} new")
        if self.resumed:
            tr.write_line(f"xai-eval: {self.resumed}")
        if self.accepted_count is not None:
            tr.write_line(f"xai-eval: known failures written to {xs.settings.known_failures_file}: {self.accepted_count} new "
                          f"({xs.settings.accept_failures}); review and commit it")
        for line in changes_summary(xs.results, xs.snapshot_results):
            tr.write_line(line)
        if self.witnesses:
            tr.section("xai-eval failing cases, by the check that caught them")
            for key, witnesses in sorted(self.witnesses.items(), key=lambda kv: str(kv[0])):
                tr.write_line(f"{key}: {', '.join(witnesses)}")
        if xs.results or xs.snapshot_results:
            self._accept_command(tr)
        if self.case_outcomes:
            tr.write_line("")
            tr.write_line(f"xai-eval: seed {xs.settings.seed}, {xs.threads_line()}")
            line = skip_counts(self.skips.values(), strict=xs.settings.strict)
            if line:
                tr.write_line(line)
            for model, method, reason in excluded(xs.settings.exclude, xs.settings.models):
                tr.write_line(f"xai-eval: {model} {method} not run, by [tool.xai_eval.exclude] in {xs.settings.config_file}: {reason}")
            if self.all_skipped:
                tr.write_line("xai-eval: every case skipped, so nothing was gated; failing the run (see the reasons above)")

    def _accept_command(self, tr: pytest.TerminalReporter) -> None:
        failing = [r.nodeid for r in self.xs.results
                   if r.status == "missing" or (r.status == "fail" and r.meaning not in ("", "unchanged"))]
        failing += [r.nodeid for r in self.xs.snapshot_results if r.status in ("changed", "missing")]
        if not failing:
            return
        options = xai_options(list(self.config.invocation_params.args))
        command = shlex.join(["pytest", *options, UPDATE_FLAG, *failing])
        tr.write_line("")
        tr.write_line(f"xai-eval: {len(failing)} check(s) outside their baselines or snapshots; to accept the new values run: {command}")
