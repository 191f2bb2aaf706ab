"""A gate run split across CI jobs: pytest-split deals out whole cases, ``xai-eval merge`` makes one run of the
shards' files and ``xai-eval record`` writes what they recorded, as one job would have."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from xai_eval.report.cli import main
from tests.test_snapshots import SNAPSHOT_SUITE

pytest.importorskip("pytest_split", reason="pytest-split splits the gate into shards: pip install -e '.[shard]'")

SANITY_SUITE = """
import pytest

def test_well_formed(xai_case, xai_record):
    xai_record("well_formed", ok=bool(xai_case.attribution().abs().sum() > 0))

@pytest.mark.xai_one_image
def test_deterministic(xai_case, xai_record):
    xai_record("deterministic", ok=True)
"""
RUNTIME_SUITE = """
import pytest

@pytest.mark.xai_one_image
def test_runtime(xai_case, xai_benchmark):
    xai_benchmark(xai_case)
"""
SHARDS = 3


@pytest.fixture
def suites_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    """The tiny gate with every kind of test a case has: sensitivity, sanity, snapshot, fingerprint, runtime."""
    gate_project.makepyfile(test_snapshot=SNAPSHOT_SUITE, test_sanity=SANITY_SUITE, test_runtime=RUNTIME_SUITE)
    return gate_project


def _collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "::" in line and not line.startswith(("[", "="))]


def _case(nodeid: str) -> str:
    return re.search(r"\[([^\]]+)\]", nodeid).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize("algorithm", ["duration_based_chunks", "least_duration"])
def test_pytest_split_deals_out_whole_cases_every_case_once(suites_project: pytest.Pytester, algorithm: str) -> None:
    everything = _collected(suites_project.runpytest("--collect-only", "-q"))
    assert len(everything) == 20  # 4 cases x (sensitivity, well-formed, snapshot, fingerprint) + 2 x (runtime, deterministic)
    durations = {nodeid: 0.1 * (index % 7 + 1) for index, nodeid in enumerate(everything)}  # uneven, as recorded ones are
    (suites_project.path / ".test_durations").write_text(json.dumps(durations))
    shards = []
    for group in range(1, SHARDS + 1):
        result = suites_project.runpytest("--collect-only", "-q", "--splits", str(SHARDS), "--group", str(group),
                                          "--splitting-algorithm", algorithm)
        result.stdout.fnmatch_lines([f"*?pytest-split? Running group {group}/{SHARDS}*"])
        shards.append(_collected(result))
    assert sorted(nodeid for shard in shards for nodeid in shard) == sorted(everything), "every test once"
    owners: dict[str, set[int]] = {}
    for index, shard in enumerate(shards):
        for nodeid in shard:
            owners.setdefault(_case(nodeid), set()).add(index)
    assert len(owners) == 4 and all(len(shard_set) == 1 for shard_set in owners.values()), owners
    assert sum(1 for shard in shards if shard) >= 2, "the cases were shared out"
    first = suites_project.runpytest("--collect-only", "--splits", str(SHARDS), "--group", "1", "--splitting-algorithm", algorithm)
    first.stdout.fnmatch_lines([f"*{len(shards[0])}/20 tests collected ({20 - len(shards[0])} deselected)*"])



def test_a_shard_under_xdist_runs_the_same_whole_cases(suites_project: pytest.Pytester) -> None:
    """``-n 2`` inside a shard: both workers split alike, and each case runs whole on one of them."""
    pytest.importorskip("xdist")
    split = ("--splits", str(SHARDS), "--group", "3", "--splitting-algorithm", "least_duration")  # 2 cases
    serial = sorted(_collected(suites_project.runpytest("--collect-only", "-q", *split)))
    parallel = suites_project.runpytest_subprocess("-n", "2", "-v", "--xai-update-baselines", *split)
    ran = re.findall(r"\[(gw\d)\][^\n]*? (\S+::\S+\[[^\]]+\])@xai-case=", parallel.stdout.str())
    assert serial and sorted(nodeid for _, nodeid in ran) == serial, parallel.stdout.str()
    workers: dict[str, set[str]] = {}
    for worker, nodeid in ran:
        workers.setdefault(_case(nodeid), set()).add(worker)
    assert len(workers) == 2 and all(len(on) == 1 for on in workers.values()), workers

def _shard_runs(project: pytest.Pytester, *args: str, folder: str) -> list[Path]:
    """The gate as ``SHARDS`` shards, one after the other, each writing into ``folder``/shard-i/; the folders."""
    folders = []
    for group in range(1, SHARDS + 1):
        out = Path(folder, f"shard-{group}")
        (project.path / out).mkdir(parents=True)  # pytest-benchmark makes no folder for its JSON
        split = ("--splits", str(SHARDS), "--group", str(group), "--splitting-algorithm", "least_duration")
        project.runpytest(*split, *(a.replace("{out}", str(out)) for a in args))
        folders.append(project.path / out)
    return folders


def _without_timings(path: Path) -> dict[str, Any]:
    """A results file without what no two runs share: the seconds each case took, and how it was split."""
    data = json.loads(path.read_text())
    for case in data["cases"]:
        case.get("max_sensitivity", {}).pop("seconds", None)
    data["run"].pop("shards", None)
    return data


def _same_timings(path: Path) -> None:
    """Give a benchmark JSON's runtime cases and a results file's cases fixed timings, so that two runs' reports
    differ only where their numbers do."""
    data = json.loads(path.read_text())
    for bench in data.get("benchmarks", []):
        bench["stats"] = {**bench["stats"], "median": 1.5, "rounds": 3}
    for case in data.get("cases", []):
        if "max_sensitivity" in case:
            case["max_sensitivity"]["seconds"] = 1.0
    path.write_text(json.dumps(data))


@pytest.mark.filterwarnings("ignore:Not saving anything:pytest_benchmark.logger.PytestBenchmarkWarning")  # a shard timed nothing
def test_three_shards_record_gate_merge_and_report_as_one_job(suites_project: pytest.Pytester) -> None:
    """The issue's acceptance test on the tiny gate: recorded by 3 shards, the baselines and snapshots are byte
    for byte one job's; gated by 3 shards, the merged results, benchmark JSON and report are one job's."""
    project = suites_project.path
    start = {"schema_version": 2, "metric": "max_sensitivity",
             "profiles": {"paper": {"tinynet.build": {"IG": {"a": {"value": 0.5}}}}}}  # a case none of them runs
    for folder in ("one", "recorded"):
        (project / folder).mkdir()
        (project / folder / "baselines.json").write_text(json.dumps(start))
    record = ("--xai-update-baselines", "--xai-calibrate", "5")
    suites_project.runpytest(*record, "--xai-baselines", "one/baselines.json").assert_outcomes(passed=20)
    for shard in _shard_runs(suites_project, *record, "--xai-baselines", "{out}/baselines.json", "--xai-results",
                             "{out}/results.json", folder="recording"):
        (shard / "baselines.json").exists() or pytest.fail(f"{shard} recorded nothing")
    shard_results = sorted(str(p) for p in (project / "recording").glob("shard-*/results.json"))
    assert len(shard_results) == SHARDS
    assert main(["record", *shard_results, "--baselines", str(project / "recorded" / "baselines.json")]) == 0
    recorded = [Path("baselines.json"), Path("snapshots/quick.json"), Path("snapshots/quick.npz")]
    for name in recorded:
        assert (project / "recorded" / name).read_bytes() == (project / "one" / name).read_bytes(), name
    assert json.loads((project / "one" / "baselines.json").read_text())["profiles"]["paper"] == start["profiles"]["paper"]
    assert '"spread"' in (project / "one" / "baselines.json").read_text()  # calibrated: the seeds' spread came through
    assert '"10005"' in (project / "one" / "baselines.json").read_text()  # and every seed's value
    assert '"noise": {' in (project / "one" / "snapshots" / "quick.json").read_text()

    snapshots = project / "one" / "snapshots" / "quick.json"
    stored = json.loads(snapshots.read_text())
    stored["models"]["tinynet.build"]["maps"]["IG"]["a"]["scale"] *= 1.5  # one accepted map is not what IG-a now gives
    snapshots.write_text(json.dumps(stored))
    gate = ("--xai-baselines", "one/baselines.json", "--xai-results", "{out}/results.json", "--benchmark-json", "{out}/benchmark.json")
    (project / "single").mkdir()
    single = suites_project.runpytest(*(a.replace("{out}", "single") for a in gate))
    single.assert_outcomes(passed=19, failed=1)
    shards = _shard_runs(suites_project, *gate, folder="gated")
    given = sorted(str(p) for shard in shards for p in shard.glob("*.json"))
    assert main(["merge", *given, "--out", str(project / "merged")]) == 0
    merged, one = project / "merged", project / "single"

    cases = [json.loads((shard / "results.json").read_text())["cases"] for shard in shards]
    names = [f"{c['method']}-{c['image']}" for shard_cases in cases for c in shard_cases]
    assert sorted(names) == ["IG-a", "IG-b", "LRP-a", "LRP-b"], "every case once, in one shard"
    parts = {"max_sensitivity", "snapshot", "fingerprint", "sanity"}
    assert all(parts <= set(c) and "well_formed" in c["sanity"] for shard_cases in cases for c in shard_cases), "each case whole"
    assert _without_timings(merged / "results.json") == _without_timings(one / "results.json")
    statuses = [(c["method"], c["image"], c["snapshot"]["status"]) for c in _without_timings(merged / "results.json")["cases"]]
    assert ("IG", "a", "changed") in statuses
    assert json.loads((merged / "results.json").read_text())["run"]["shards"] == SHARDS

    def runtime_cases(path: Path) -> dict[str, Any]:
        return {b["name"]: b["extra_info"] for b in json.loads(path.read_text())["benchmarks"]}

    assert runtime_cases(merged / "benchmark.json") == runtime_cases(one / "benchmark.json")
    assert main(["compare", str(one / "benchmark.json"), str(merged / "benchmark.json")]) == 0

    for folder in (one, merged):
        _same_timings(folder / "benchmark.json")
        _same_timings(folder / "results.json")
        args = ["report", str(folder / "benchmark.json"), "--results", str(folder / "results.json"), "--out", str(folder / "report")]
        assert main(args) == 0
    pages = [(folder / "report" / "report.html").read_text() for folder in (one, merged)]
    assert "merged from 3 shards" in pages[1] and "one job" in pages[0]
    assert [re.sub(r'<p class="shards">.*</p>', "", page) for page in pages[1:]] == [re.sub(r'<p class="shards">.*</p>', "", pages[0])]
    assert pages[0].count("data:image/png;base64,") == 2, "the heat maps and IG-a's changed snapshot"
    assert (merged / "report" / "table.md").read_text() == (one / "report" / "table.md").read_text()


# --- bad input: one line, exit 2 ------------------------------------------------------------------------

RUN = {"profile": "quick", "seed": 0, "device": "cpu", "threads": 2, "workers": 1, "calibration_seeds": 0,
       "versions": {"captum": "0.9.0", "torch": "2.4.0", "torchvision": "0.19.0"}}


def _case_record(method: str, image: str, status: str = "pass", logit: float = 3.0) -> dict[str, Any]:
    from xai_eval.records.maps import encode_array

    fingerprint = {"target": 3, "target_logit": logit, "top": [3], "top_logits": [logit]}
    return {
        "profile": "quick", "model": "tinynet.build", "method": method, "image": image, "sanity": {},
        "max_sensitivity": {"value": 0.25, "baseline": None, "meaning": "", "sds": None, "threshold": None,
                            "status": status, "seconds": 0.1},
        "fingerprint": {"status": status, "meaning": "", "detail": "", **fingerprint},
        "snapshot": {"status": status, "meaning": "", "detail": "", "values": encode_array([[0.5, -1.0], [1.0, 0.0]]),
                     "scale": 2.0, "channel_norms": [1.0, 1.0, 1.0]},
    }


def _results(folder: Path, name: str, cases: list[dict[str, Any]], group: int | None = None, splits: int = 2, **run: Any) -> str:
    shard = {} if group is None else {"shard": {"group": group, "splits": splits}}
    path = folder / name
    path.write_text(json.dumps({"schema_version": 2, "run": {**RUN, **run, **shard}, "cases": cases}))
    return str(path)


def _benchmark(folder: Path, name: str, group: int, **run: Any) -> str:
    path = folder / name
    info = {"profile": "quick", "seed": 0, "run": {**RUN, **run, "shard": {"group": group, "splits": 2}}, "images_png_base64": {}}
    path.write_text(json.dumps({"machine_info": {"xai_device": "cpu"}, "benchmarks": [], "version": "5.1.0", "xai_eval": info}))
    return str(path)


def _one_line(err: str, fragment: str) -> None:
    assert err.count("\n") == 1 and err.startswith("xai-eval: error: ") and "Traceback" not in err, err
    assert fragment in err, (fragment, err)


BAD_MERGES = {
    "a missing file": (lambda d: [_results(d, "a.json", [], 1), str(d / "nope.json")],
                       "nope.json: no such file (a results file or a benchmark JSON); give the files written by: pytest suites/"),
    "a file that is not JSON": (lambda d: [_results(d, "a.json", [], 1), (d / "b.json").write_text("{oops") and str(d / "b.json")],
                                "b.json: not JSON (Expecting property name"),
    "JSON that is neither": (lambda d: [(d / "b.json").write_text("[1, 2]") and str(d / "b.json")],
                             "b.json: neither an xai-eval results file (no 'cases' list) nor a pytest-benchmark JSON"),
    "another seed": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2, seed=3)],
                     "b.json: run.seed is 3, in "),
    "another profile": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2, profile="paper")],
                        "b.json: run.profile is 'paper', in "),
    "another device": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2, device="cuda")],
                       "b.json: run.device is 'cuda', in "),
    "other package versions": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2, versions={"torch": "2.5.0"})],
                               "b.json: run.versions is {'torch': '2.5.0'}, in "),
    "a duplicate case": (lambda d: [_results(d, "a.json", [_case_record("IG", "a")], 1), _results(d, "b.json", [_case_record("IG", "a")], 2)],
                         "b.json: case quick/tinynet.build/IG/a also ran in "),
    "a shard twice": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 1)],
                      "b.json: shard 1 of 2 again (also "),
    "a missing shard": (lambda d: [_results(d, "a.json", [], 1, splits=3), _results(d, "b.json", [], 3, splits=3)],
                        "a.json: shard(s) 2 of 3 missing; give every shard's results file"),
    "shards of different splits": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2, splits=3)],
                                   "b.json: shard 2 of 3, "),
    "a shard and a whole run": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [])],
                                "b.json: not a shard (no run.shard) while "),
    "benchmark JSONs alone": (lambda d: [_benchmark(d, "b1.json", 1)], "no results file given; a shard's benchmark JSON holds"),
    "a benchmark of another seed": (lambda d: [_results(d, "a.json", [], 1), _results(d, "b.json", [], 2), _benchmark(d, "b1.json", 1, seed=4)],
                                    "b1.json: xai_eval.run.seed is 4, in the results files 0"),
}


@pytest.mark.parametrize("bad", BAD_MERGES.values(), ids=BAD_MERGES.keys())
def test_bad_input_to_merge_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad) -> None:
    make, fragment = bad
    files = make(tmp_path)
    assert main(["merge", *files, "--out", str(tmp_path / "merged")]) == 2
    _one_line(capsys.readouterr().err, fragment)
    assert not (tmp_path / "merged").exists(), "nothing is written"


def test_record_refuses_gated_results_and_conflicting_fingerprints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baselines = tmp_path / "baselines.json"
    gated = _results(tmp_path, "gated.json", [_case_record("IG", "a")])
    assert main(["record", gated, "--baselines", str(baselines)]) == 2
    _one_line(capsys.readouterr().err, "case quick/tinynet.build/IG/a: its max sensitivity was gated (status 'pass'), not recorded;"
                                       " run every shard with --xai-update-baselines --xai-results FILE")
    shards = [_results(tmp_path, "1.json", [_case_record("IG", "a", "updated")], 1),
              _results(tmp_path, "2.json", [_case_record("LRP", "a", "updated", logit=3.5)], 2)]
    assert main(["record", *shards, "--baselines", str(baselines)]) == 2
    _one_line(capsys.readouterr().err, "fingerprint quick/tinynet.build/a recorded by case quick/tinynet.build/LRP/a differs from"
                                       " the one case quick/tinynet.build/IG/a recorded")
    assert not baselines.exists() and not (tmp_path / "snapshots").exists()
    shards[1] = _results(tmp_path, "2.json", [_case_record("LRP", "a", "updated")], 2)
    assert main(["record", *shards, "--baselines", str(baselines)]) == 0
    assert "baselines written to" in capsys.readouterr().out
    entries = json.loads(baselines.read_text())["profiles"]["quick"]["tinynet.build"]
    assert entries == {"IG": {"a": {"value": 0.25}}, "LRP": {"a": {"value": 0.25}}}
