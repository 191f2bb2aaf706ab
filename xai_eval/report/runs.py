"""Reading pytest-benchmark JSON reports written by an xai-eval run."""

from __future__ import annotations

import base64
import binascii
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.files import unreadable
from xai_eval.records.floors import SENSITIVITY_ATOL, SENSITIVITY_RTOL
from xai_eval.records.maps import EXTRA_INFO_KEY
from xai_eval.report.fields import MISSING, At

MAKE_ONE = "create one with: pytest suites/ --benchmark-json=FILE"
UNKNOWN = "?"
INFO = f"extra_info.{EXTRA_INFO_KEY}"


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
    rounds: int | None = None
    """pytest-benchmark's ``stats.rounds``: how many timed rounds the median is over (None: not recorded)."""
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    """Every other metric the run computed for this (model, method): metric -> image -> value."""

    @property
    def mean_sensitivity(self) -> float | None:
        return self.mean_of("max_sensitivity")

    def values_of(self, metric: str) -> dict[str, float]:
        """Image -> value of ``metric`` (max sensitivity included)."""
        return self.max_sensitivity if metric == "max_sensitivity" else self.metrics.get(metric, {})

    def mean_of(self, metric: str) -> float | None:
        values = list(self.values_of(metric).values())
        return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class MetricInfo:
    """What a report says of one metric: how to call it and which direction is better."""

    label: str
    lower_is_better: bool | None
    """None: the report does not say (the metric is shown, never ranked)."""
    rtol: float = SENSITIVITY_RTOL
    atol: float = SENSITIVITY_ATOL
    """The numeric floor the gate compares the metric at (max sensitivity's where the report does not say)."""


@dataclass(frozen=True)
class Run:
    """A whole report: where it ran and its runtime cases keyed by (model, method)."""

    path: Path
    machine: dict[str, Any]
    profile: str
    cases: dict[tuple[str, str], MethodRun]
    images_png_base64: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    """``["xai_eval"]["versions"]``: torch, torchvision, captum and (since it is recorded) xai_eval."""
    work: dict[str, Any] = field(default_factory=dict)
    """``["xai_eval"]["work"]``: the profile's settings, the models and methods requested and the photos' digests
    (empty in reports written before it was recorded)."""

    @property
    def xai_eval_version(self) -> str | None:
        """The xai-eval version that computed the numbers (None: the report predates recording it)."""
        return self.versions.get("xai_eval")

    @property
    def cpu(self) -> str:
        cpu = self.machine.get("cpu")
        brand = (cpu.get("brand_raw") if isinstance(cpu, dict) else cpu) or self.machine.get("processor") or "unknown CPU"
        cores = cpu.get("count") if isinstance(cpu, dict) else None
        return f"{brand} ×{cores}" if isinstance(cores, int) and not isinstance(cores, bool) else str(brand)

    @property
    def threads(self) -> str | None:
        """torch's thread count as words, ``2 threads`` or ``1 thread`` (None: not recorded)."""
        count = self.machine.get("torch_num_threads")
        return None if count is None else f"{count} thread{'' if count == 1 else 's'}"
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    """The metrics the run computed, in the order it ran them (max sensitivity first when it ran)."""
    code: dict[str, Any] | None = None
    """``["xai_eval"]["run"]["code"]``: the xai-eval version, commit and registry digest that computed the numbers
    (None: the report predates recording it)."""

    def machine_line(self) -> str:
        gpu = self.machine.get("gpu") or "no GPU"
        torch_version = self.machine.get("torch_version", "torch ?")
        device = self.machine.get("xai_device", UNKNOWN)
        version = self.xai_eval_version or UNKNOWN
        return f"{self.cpu}, {gpu}, torch {torch_version}, {self.threads or '? threads'}, device {device}, xai-eval {version}"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XaiEvalError(f"{path}: no such file; {MAKE_ONE}") from None
    except IsADirectoryError:
        raise XaiEvalError(f"{path}: is a folder, not a report; {MAKE_ONE}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise XaiEvalError(f"{path}: not JSON, so not a pytest-benchmark report; {MAKE_ONE}") from None
    except OSError as exc:
        raise unreadable(path, exc) from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
        raise XaiEvalError(f"{path}: not a pytest-benchmark JSON report (no 'benchmarks' list or 'machine_info'); {MAKE_ONE}")
    return data


def _machine(data: dict[str, Any], at: At) -> dict[str, Any]:
    """``machine_info``, with the keys ``xai-eval compare`` matches on checked (absent or null: unknown)."""
    machine = at.obj(data["machine_info"], "machine_info")
    at.optional_text(machine.get("xai_device", MISSING), "machine_info.xai_device")
    at.optional_count(machine.get("torch_num_threads", MISSING), "machine_info.torch_num_threads")
    at.optional_count(machine.get("xai_seed", MISSING), "machine_info.xai_seed")
    return machine


def _per_image(values: Any, key: str, at: At) -> dict[str, float]:
    """Image -> value; null (the run stores non-finite values as null) and non-finite values are left out."""
    kept: dict[str, float] = {}
    for image, value in at.obj(values, key).items():
        if value is not None and not (isinstance(value, float) and not math.isfinite(value)):
            kept[image] = at.number(value, f"{key}.{image}")
    return kept


def _max_sensitivity(info: dict[str, Any], at: At) -> dict[str, float]:
    return _per_image(info.get("max_sensitivity", {}), f"{INFO}.max_sensitivity", at)


def _metrics(info: dict[str, Any], at: At) -> dict[str, dict[str, float]]:
    """Metric -> image -> value, for every other metric the run computed."""
    metrics = at.obj(info.get("metrics", {}), f"{INFO}.metrics")
    return {name: _per_image(values, f"{INFO}.metrics.{name}", at) for name, values in metrics.items()}


def _sanity(info: dict[str, Any], at: At) -> dict[str, dict[str, Any]]:
    """Image -> check -> result; each result needs its ``outcome``."""
    images = at.obj(info.get("sanity", {}), f"{INFO}.sanity")
    for image, checks in images.items():
        for check, result in at.obj(checks, f"{INFO}.sanity.{image}").items():
            key = f"{INFO}.sanity.{image}.{check}"
            at.text(at.obj(result, key).get("outcome", MISSING), f"{key}.outcome")
    return images


def _attribution(info: dict[str, Any], at: At) -> dict[str, Any]:
    """The float16 heat map: its ``shape`` (H, W) and base64 data of exactly H * W float16 values."""
    key = f"{INFO}.attribution"
    attribution = at.obj(info.get("attribution", MISSING), key)
    shape = attribution.get("shape", MISSING)
    if shape is MISSING or not (isinstance(shape, list) and len(shape) == 2):
        raise at.error(f"{key}.shape", "must be a list [height, width]" if shape is not MISSING else "is missing")
    height, width = (at.count(size, f"{key}.shape", least=1) for size in shape)
    encoded = at.text(attribution.get("float16_base64", MISSING), f"{key}.float16_base64")
    try:
        size = len(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        size = -1
    if size != 2 * height * width:
        raise at.error(f"{key}.float16_base64", f"is not base64 of {height}x{width} float16 values (its 'shape')")
    return attribution


def _method_run(bench: dict[str, Any], info: dict[str, Any], at: At) -> MethodRun:
    stats = at.obj(bench.get("stats", MISSING), "stats")
    return MethodRun(
        model=at.text(info.get("model", MISSING), f"{INFO}.model"),
        method=at.text(info.get("method", MISSING), f"{INFO}.method"),
        image=at.text(info.get("image", MISSING), f"{INFO}.image"),
        median_seconds=at.number(stats.get("median", MISSING), "stats.median", positive=True),
        max_sensitivity=_max_sensitivity(info, at),
        sanity=_sanity(info, at),
        attribution=_attribution(info, at),
        rounds=at.optional_count(stats.get("rounds", MISSING), "stats.rounds"),
        metrics=_metrics(info, at),
    )


def _cases(data: dict[str, Any], path: Path) -> dict[tuple[str, str], MethodRun]:
    """The benchmarks xai-eval wrote (others, without ``extra_info.xai_eval``, are passed over)."""
    cases: dict[tuple[str, str], MethodRun] = {}
    for index, bench in enumerate(data["benchmarks"]):
        at = At(path)
        bench = at.obj(bench, f"benchmarks[{index}]")
        name = bench.get("name")
        at = At(path, f"benchmark {name!r}" if isinstance(name, str) else f"benchmarks[{index}]")
        extra = bench.get("extra_info")
        info = None if extra is None else at.obj(extra, "extra_info").get(EXTRA_INFO_KEY)
        if info is None:
            continue
        case = _method_run(bench, at.obj(info, INFO), at)
        cases[case.model, case.method] = case
    return cases


def load_run(path: Path) -> Run:
    """Read ``path``; one-line errors for files that are not well-formed xai-eval pytest-benchmark reports."""
    data = _read(path)
    at = At(path)
    machine = _machine(data, at)
    cases = _cases(data, path)
    if not cases:
        raise XaiEvalError(
            f"{path}: a pytest-benchmark report without xai-eval extra_info (no runtime cases of suites/test_runtime.py); {MAKE_ONE}"
        )
    extra = at.obj(data.get(EXTRA_INFO_KEY, {}), EXTRA_INFO_KEY)
    profile = at.optional_text(extra.get("profile", MISSING), f"{EXTRA_INFO_KEY}.profile") or UNKNOWN
    images = _texts(extra.get("images_png_base64", {}), f"{EXTRA_INFO_KEY}.images_png_base64", at)
    versions = _texts(extra.get("versions", {}), f"{EXTRA_INFO_KEY}.versions", at)
    code = at.obj(at.obj(extra.get("run", {}), f"{EXTRA_INFO_KEY}.run").get("code", {}), f"{EXTRA_INFO_KEY}.run.code") or None
    return Run(path, machine, profile, cases, images, versions, _work(extra, at), _metric_infos(extra, cases, at), code)


def _texts(value: Any, key: str, at: At) -> dict[str, str]:
    """An object whose values are all non-empty strings."""
    for name, text in at.obj(value, key).items():
        at.text(text, f"{key}.{name}")
    return value


def _work(extra: dict[str, Any], at: At) -> dict[str, Any]:
    """``["xai_eval"]["work"]`` checked: profile_settings an object, models and methods lists of names, photos
    id -> digest; absent (an older report): empty."""
    key = f"{EXTRA_INFO_KEY}.work"
    work = at.obj(extra.get("work", {}), key)
    if not work:
        return work
    at.obj(work.get("profile_settings", MISSING), f"{key}.profile_settings")
    for names in ("models", "methods"):
        value = work.get(names, MISSING)
        if value is MISSING or not isinstance(value, list):
            raise at.error(f"{key}.{names}", "is missing" if value is MISSING else "must be a list of names")
        for index, name in enumerate(value):
            at.text(name, f"{key}.{names}[{index}]")
    _texts(work.get("photos", MISSING), f"{key}.photos", at)
    return work


def _metric_infos(extra: dict[str, Any], cases: dict[tuple[str, str], MethodRun], at: At) -> dict[str, MetricInfo]:
    """What the report says of its metrics; max sensitivity (lower is better) where a report from before
    metrics were recorded has only its values, and a metric with values but no description is listed with
    no better direction assumed (it is shown, never ranked)."""
    described = at.obj(extra.get("metrics", {}), f"{EXTRA_INFO_KEY}.metrics")
    infos: dict[str, MetricInfo] = {}
    if any(case.max_sensitivity for case in cases.values()):
        infos["max_sensitivity"] = MetricInfo("max sensitivity", True)
    for name, raw in described.items():
        key = f"{EXTRA_INFO_KEY}.metrics.{name}"
        entry = at.obj(raw, key)
        better = entry.get("lower_is_better", MISSING)
        if not isinstance(better, bool):
            raise at.error(f"{key}.lower_is_better", "is missing" if better is MISSING else "must be true or false")
        floor = {part: at.number(entry[part], f"{key}.{part}") for part in ("rtol", "atol") if part in entry}
        infos[name] = MetricInfo(at.text(entry.get("label", MISSING), f"{key}.label"), better, **floor)
    for name in sorted({name for case in cases.values() for name in case.metrics} - set(infos)):
        infos[name] = MetricInfo(name, None)
    return infos
