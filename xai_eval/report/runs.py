"""Reading pytest-benchmark JSON reports written by an xai-eval run."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xai_eval.records.maps import EXTRA_INFO_KEY
from xai_eval.errors import XaiEvalError

MAKE_ONE = "create one with: pytest suites/ --benchmark-json=FILE"


@dataclass(frozen=True)
class MethodRun:
    """One runtime case of a report, with the metrics the run computed for that (model, method)."""

    model: str
    method: str
    image: str
    median_seconds: float
    max_sensitivity: dict[str, float]
    sanity: dict[str, dict[str, Any]]
    attribution: dict[str, Any]

    @property
    def mean_sensitivity(self) -> float | None:
        values = list(self.max_sensitivity.values())
        return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class Run:
    """A whole report: where it ran and its runtime cases keyed by (model, method)."""

    path: Path
    machine: dict[str, Any]
    profile: str
    cases: dict[tuple[str, str], MethodRun]
    images_png_base64: dict[str, str] = field(default_factory=dict)

    def machine_line(self) -> str:
        cpu = (self.machine.get("cpu") or {}).get("brand_raw") or self.machine.get("processor") or "unknown CPU"
        gpu = self.machine.get("gpu") or "no GPU"
        torch_version = self.machine.get("torch_version", "torch ?")
        device = self.machine.get("xai_device", "?")
        threads = self.machine.get("torch_num_threads", "?")
        return f"{cpu}, {gpu}, torch {torch_version}, {threads} threads, device {device}"


def load_run(path: Path) -> Run:
    """Read ``path``; one-line errors for files that are not xai-eval pytest-benchmark reports."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XaiEvalError(f"{path}: no such file; {MAKE_ONE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise XaiEvalError(f"{path}: not JSON, so not a pytest-benchmark report; {MAKE_ONE}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
        raise XaiEvalError(f"{path}: not a pytest-benchmark JSON report (no 'benchmarks' list or 'machine_info'); {MAKE_ONE}")
    cases: dict[tuple[str, str], MethodRun] = {}
    for bench in data["benchmarks"]:
        info = (bench.get("extra_info") or {}).get(EXTRA_INFO_KEY)
        if not isinstance(info, dict):
            continue
        try:
            case = MethodRun(
                model=info["model"], method=info["method"], image=info["image"],
                median_seconds=float(bench["stats"]["median"]),
                max_sensitivity=dict(info.get("max_sensitivity", {})), sanity=dict(info.get("sanity", {})),
                attribution=info["attribution"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise XaiEvalError(f"{path}: benchmark {bench.get('name', '?')!r} has incomplete xai-eval extra_info ({exc})") from None
        cases[case.model, case.method] = case
    if not cases:
        raise XaiEvalError(
            f"{path}: a pytest-benchmark report without xai-eval extra_info (no runtime cases of suites/test_runtime.py); {MAKE_ONE}"
        )
    extra = data.get(EXTRA_INFO_KEY) or {}
    return Run(path, data["machine_info"], extra.get("profile", "?"), cases, extra.get("images_png_base64", {}))
