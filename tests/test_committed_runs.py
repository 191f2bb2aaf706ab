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
