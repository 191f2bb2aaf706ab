"""Every run file committed under benchmarks/results/ is one this xai-eval reads, and a results file of an
unknown schema is refused in the same words by every subcommand that reads results files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xai_eval.report.cli import main
from xai_eval.report.run_files import BENCHMARK, RESULTS, read_run_file

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
COMMITTED = sorted(RESULTS_DIR.glob("*.json"))


def test_there_are_committed_runs_of_both_kinds() -> None:
    kinds = {read_run_file(path).kind for path in COMMITTED}
    assert kinds == {BENCHMARK, RESULTS}, kinds


@pytest.mark.parametrize("path", COMMITTED, ids=[path.name for path in COMMITTED])
def test_a_committed_run_file_is_read(path: Path) -> None:
    found = read_run_file(path)
    assert found.run, f"{path.name}: no run record"
    assert found.kind == (RESULTS if path.name.endswith("_results.json") else BENCHMARK)


def test_an_old_schema_results_file_is_refused_alike_by_every_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (current,) = [path for path in COMMITTED if read_run_file(path).kind == RESULTS]
    old = tmp_path / "old_results.json"
    old.write_text(json.dumps(json.loads(current.read_text()) | {"schema_version": 1}))
    expected = f"{old}: results schema_version 1, this xai-eval reads 2; re-create it with: pytest suites/ --xai-results FILE"
    benchmark = next(path for path in COMMITTED if read_run_file(path).kind == BENCHMARK)
    commands = {
        "snapshots": ["snapshots", str(old), "--out", str(tmp_path / "figures")],
        "report --results": ["report", str(benchmark), "--results", str(old), "--out", str(tmp_path / "report")],
        "merge": ["merge", str(old), "--out", str(tmp_path / "merged")],
        "record": ["record", str(old), "--baselines", str(tmp_path / "baselines")],
    }
    for name, argv in commands.items():
        assert main(argv) != 0, name
        err = capsys.readouterr().err.strip()
        assert err.splitlines()[-1].endswith(expected), (name, err)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d["cases"][0].update(max_sensitivity=None), "cases[0].max_sensitivity must be an object"),
        (lambda d: d["cases"][0].update(max_sensitivity=0.5), "cases[0].max_sensitivity must be an object"),
        (lambda d: d["cases"][0].update(metrics=[1]), "cases[0].metrics must be an object"),
        (lambda d: d["run"].update(versions=["torch"]), "run.versions must be an object"),
        (lambda d: d["run"].update(code="abc"), "run.code must be an object"),
    ],
)
def test_a_malformed_results_file_is_one_line_for_report(tmp_path: Path, capsys: pytest.CaptureFixture[str], change, fragment) -> None:  # type: ignore[no-untyped-def]
    (current,) = [path for path in COMMITTED if read_run_file(path).kind == RESULTS]
    data = json.loads(current.read_text())
    change(data)
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps(data))
    assert main(["report", "--results", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
