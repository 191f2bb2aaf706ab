"""``xai-eval merge``: the results files and benchmark JSONs of a run's shards, as one run's.

A run split by pytest-split (``pytest suites/ --splits N --group i``) writes, in each of its N jobs, a results
file with that shard's cases and (when the shard ran a runtime case) a benchmark JSON. The shards must come
from one command: the same ``run`` (profile, seed, device, threads, calibration seeds, package versions)
whatever their shard, every shard once, and every case in one shard only; anything else is refused in one
line. The merged results file is the single run's (cases in the same order); the merged benchmark JSON has
every shard's runtime cases, and each carries the metrics of all the run's cases of its method, from the
merged results, as a single run's does. Its ``machine_info`` is the first shard's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.records.maps import EXTRA_INFO_KEY
from xai_eval.records.results import RESULTS_SCHEMA_VERSION, method_metrics
from xai_eval.report.run_files import BENCHMARK, RESULTS, RunFile, case_name

ONE_RUN = "merge the shards of one run (one command, on one kind of machine)"
MACHINE_KEYS = ("gpu", "cuda_version", "cuda_available", "torch_num_threads", "torch_version", "xai_device", "xai_seed")
"""What xai-eval adds to pytest-benchmark's ``machine_info``: the shards must agree on it."""


def _without_shard(run: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in run.items() if key != "shard"}


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    return next((key for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)), None)


def _same(reference: object, files: Sequence[RunFile], values: list[dict[str, Any]], what: str) -> None:
    """One line naming the first key on which a file's value (``values[1:]``, one per file) differs from the
    ``reference``'s (``values[0]``)."""
    for file, value in zip(files, values[1:]):
        key = _first_difference(values[0], value)
        if key is not None:
            raise XaiEvalError(f"{file.path}: {what}.{key} is {value.get(key)!r}, in {reference} {values[0].get(key)!r}; {ONE_RUN}")


def _in_shard_order(files: Sequence[RunFile], *, every_shard: bool) -> list[RunFile]:
    """The files by shard number (as given where none is a pytest-split shard); one line for a shard given twice,
    shards of different splits and, if ``every_shard``, a missing shard."""
    shards = {file.path: file.shard for file in files}
    split = [(file, shard) for file in files if (shard := shards[file.path]) is not None]
    if not split:
        return list(files)
    if len(split) != len(files):
        unsplit = next(file for file in files if shards[file.path] is None)
        raise XaiEvalError(f"{unsplit.path}: not a shard (no run.shard) while {split[0][0].path} is; {ONE_RUN}")
    first, (_, splits) = split[0][0], split[0][1]
    seen: dict[int, RunFile] = {}
    for file, (group, of) in split:
        if of != splits:
            raise XaiEvalError(f"{file.path}: shard {group} of {of}, {first.path} is of {splits}; {ONE_RUN}")
        if group in seen:
            raise XaiEvalError(f"{file.path}: shard {group} of {of} again (also {seen[group].path}); give each shard's file once")
        seen[group] = file
    missing = [str(group) for group in range(1, splits + 1) if group not in seen]
    if every_shard and missing:
        raise XaiEvalError(f"{first.path}: shard(s) {', '.join(missing)} of {splits} missing; give every shard's results file")
    return [seen[group] for group in sorted(seen)]


def merge_results(files: Sequence[RunFile]) -> dict[str, Any]:
    """One results file from the shards' (see the module's docstring)."""
    files = _in_shard_order(files, every_shard=True)
    _same(files[0].path, files[1:], [_without_shard(file.run) for file in files], "run")
    owner: dict[str, RunFile] = {}
    cases = []
    for file in files:
        for case in file.data["cases"]:
            name = case_name(case)
            if name in owner:
                raise XaiEvalError(
                    f"{file.path}: case {name} also ran in {owner[name].path}; a case runs in one shard only"
                    " (split every shard with the same --splits N, in a project that uses xai-eval)"
                )
            owner[name] = file
            cases.append(case)
    run = {**_without_shard(files[0].run), "shards": len(files)}
    return {"schema_version": RESULTS_SCHEMA_VERSION, "run": run, "cases": sorted(cases, key=case_name)}


def merge_benchmarks(files: Sequence[RunFile], results: dict[str, Any]) -> dict[str, Any]:
    """One benchmark JSON from the shards' and the merged ``results`` (see the module's docstring)."""
    files = _in_shard_order(files, every_shard=False)
    run = results["run"]
    common = {key: value for key, value in run.items() if key != "shards"}
    _same("the results files", files, [common, *(_without_shard(file.run) for file in files)], f"{EXTRA_INFO_KEY}.run")
    tops = [{k: v for k, v in file.data[EXTRA_INFO_KEY].items() if k not in ("run", "images_png_base64")} for file in files]
    _same(files[0].path, files[1:], tops, EXTRA_INFO_KEY)
    machines = [{key: file.data["machine_info"].get(key) for key in MACHINE_KEYS} for file in files]
    _same(files[0].path, files[1:], machines, "machine_info")
    _same(files[0].path, files[1:], [{"version": file.data.get("version")} for file in files], "pytest-benchmark")
    metrics = method_metrics(results["cases"])
    images: dict[str, Any] = {}
    benchmarks: list[dict[str, Any]] = []
    owner: dict[str, RunFile] = {}
    for file in files:
        for name, encoded in file.data[EXTRA_INFO_KEY].get("images_png_base64", {}).items():
            if images.setdefault(name, encoded) != encoded:
                raise XaiEvalError(f"{file.path}: photo {name} differs from the other shards'; {ONE_RUN}")
        for bench in file.data["benchmarks"]:
            if bench["fullname"] in owner:
                raise XaiEvalError(f"{file.path}: benchmark {bench['fullname']} also ran in {owner[bench['fullname']].path};"
                                   " a case runs in one shard only")
            owner[bench["fullname"]] = file
            info = bench.get("extra_info", {}).get(EXTRA_INFO_KEY)
            if isinstance(info, dict):
                bench = {**bench, "extra_info": {**bench["extra_info"], EXTRA_INFO_KEY: {
                    **info, **metrics.get((info.get("model"), info.get("method")), {"max_sensitivity": {}, "sanity": {}})}}}
            benchmarks.append(bench)
    merged = dict(files[0].data)
    merged["benchmarks"] = benchmarks
    merged[EXTRA_INFO_KEY] = {**files[0].data[EXTRA_INFO_KEY], "run": run, "images_png_base64": images}
    return merged


def merge(files: Sequence[RunFile]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The merged results file, and the merged benchmark JSON when benchmark JSONs are given."""
    results = [file for file in files if file.kind == RESULTS]
    benchmarks = [file for file in files if file.kind == BENCHMARK]
    if not results:
        raise XaiEvalError(
            f"{files[0].path}: no results file given; a shard's benchmark JSON holds the metrics of its runtime cases only,"
            " so give every shard's results file too (pytest suites/ --xai-results FILE)"
        )
    merged = merge_results(results)
    return merged, merge_benchmarks(benchmarks, merged) if benchmarks else None
