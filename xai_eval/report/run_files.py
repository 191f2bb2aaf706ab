"""The two files a gate run writes for reports, told apart by their content, with one-line errors.

A **results file** (``pytest suites/ --xai-results FILE``): ``schema_version``, ``run`` (how the run computed)
and ``cases`` (one record per case). A **benchmark JSON** (``--benchmark-json FILE``): pytest-benchmark's
report with xai-eval's ``xai_eval`` entry (the run) and each runtime case's ``extra_info``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.files import read_text
from xai_eval.records.maps import EXTRA_INFO_KEY
from xai_eval.records.results import RESULTS_SCHEMA_VERSION

RESULTS = "results"
BENCHMARK = "benchmark"
MAKE_THEM = "give the files written by: pytest suites/ --xai-results FILE --benchmark-json FILE"
CASE_FIELDS = ("profile", "model", "method", "image")


@dataclass(frozen=True)
class RunFile:
    """A results file or a benchmark JSON (``kind``), read and checked as far as ``xai-eval`` relies on it."""

    path: Path
    kind: str
    data: dict[str, Any]

    @property
    def run(self) -> dict[str, Any]:
        """How the run computed (profile, seed, device, threads, versions, and its shard if split)."""
        return self.data["run"] if self.kind == RESULTS else self.data[EXTRA_INFO_KEY]["run"]

    @property
    def shard(self) -> tuple[int, int] | None:
        """(group, splits) of a shard's file (pytest-split), else None."""
        shard = self.run.get("shard")
        return None if shard is None else (shard["group"], shard["splits"])


def case_name(case: dict[str, Any]) -> str:
    """``profile/model/method/image``, as the gate names a case."""
    return "/".join(case[field] for field in CASE_FIELDS)


def read_run_file(path: Path) -> RunFile:
    """``path`` as a results file or a benchmark JSON; one line for anything else."""
    text = read_text(path, "a results file or a benchmark JSON", MAKE_THEM)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise XaiEvalError(f"{path}: not JSON ({exc}); {MAKE_THEM}") from None
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        return RunFile(path, RESULTS, _results(path, data))
    if isinstance(data, dict) and isinstance(data.get("benchmarks"), list) and "machine_info" in data:
        return RunFile(path, BENCHMARK, _benchmark(path, data))
    raise XaiEvalError(f"{path}: neither an xai-eval results file (no 'cases' list) nor a pytest-benchmark JSON; {MAKE_THEM}")


def read_results(path: Path) -> RunFile:
    """``path`` as a results file; one line for anything else."""
    found = read_run_file(path)
    if found.kind != RESULTS:
        raise XaiEvalError(f"{path}: a benchmark JSON, not a results file; give the file of: pytest suites/ --xai-results FILE")
    return found


def _results(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("schema_version")
    if version != RESULTS_SCHEMA_VERSION:
        raise XaiEvalError(f"{path}: results schema_version {version!r}, this xai-eval reads {RESULTS_SCHEMA_VERSION};"
                           f" re-create it with: pytest suites/ --xai-results FILE")
    run = _object(path, data.get("run"), "run")
    _shard(path, run, "run")
    for key in ("versions", "code"):
        if key in run and not isinstance(run[key], dict):
            raise XaiEvalError(f"{path}: run.{key} must be an object; {MAKE_THEM}")
    for index, case in enumerate(data["cases"]):
        if not isinstance(case, dict) or not all(isinstance(case.get(field), str) and case[field] for field in CASE_FIELDS):
            raise XaiEvalError(f"{path}: cases[{index}] must be an object with the strings {', '.join(CASE_FIELDS)}; {MAKE_THEM}")
        for part in ("sanity", "max_sensitivity", "metrics", "snapshot", "fingerprint"):
            if not isinstance(case.get(part, {}), dict):
                raise XaiEvalError(f"{path}: cases[{index}].{part} must be an object; {MAKE_THEM}")
    return data


def _benchmark(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    extra = data.get(EXTRA_INFO_KEY)
    if not isinstance(extra, dict) or not isinstance(extra.get("run"), dict):
        raise XaiEvalError(f"{path}: a pytest-benchmark JSON without xai-eval's '{EXTRA_INFO_KEY}.run'; {MAKE_THEM}")
    _shard(path, extra["run"], f"{EXTRA_INFO_KEY}.run")
    _object(path, data["machine_info"], "machine_info")
    for index, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, dict) or not isinstance(bench.get("fullname"), str):
            raise XaiEvalError(f"{path}: benchmarks[{index}] must be an object with a 'fullname'; {MAKE_THEM}")
    return data


def _object(path: Path, value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise XaiEvalError(f"{path}: '{key}' must be an object; {MAKE_THEM}")
    return value


def _shard(path: Path, run: dict[str, Any], key: str) -> None:
    shard = run.get("shard")
    if shard is None:
        return
    numbers = [shard.get(name) for name in ("group", "splits")] if isinstance(shard, dict) else []
    if not (len(numbers) == 2 and all(isinstance(n, int) and not isinstance(n, bool) for n in numbers) and 1 <= numbers[0] <= numbers[1]):
        raise XaiEvalError(f"{path}: '{key}.shard' must be {{\"group\": i, \"splits\": N}} with 1 <= i <= N; {MAKE_THEM}")
