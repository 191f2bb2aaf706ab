"""The baseline workflow end to end, with pytester: fail -> update -> pass -> regress -> fail."""

from __future__ import annotations

import json
import re

import pytest


def _values(path):
    data = json.loads(path.read_text())
    return {
        (model, method, image): entry["value"]
        for model, methods in data["profiles"]["quick"].items()
        for method, images in methods.items()
        for image, entry in images.items()
    }


def test_missing_baseline_fails_and_says_how_to_create_it(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest()
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*has no entries for profile 'quick'*--xai-update-baselines*"])
    assert not (gate_project.path / "baselines.json").exists()


def test_without_xdist_the_case_groups_raise_no_unknown_mark_warning(gate_project: pytest.Pytester) -> None:
    """Every case is marked with its xdist_group; a user without pytest-xdist sees no warning about it."""
    result = gate_project.runpytest_subprocess("-p", "no:xdist", "-W", "error::pytest.PytestUnknownMarkWarning",
                                               "--xai-update-baselines")
    result.assert_outcomes(passed=4)


def test_fail_update_pass_regress_fail(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest().assert_outcomes(failed=4)

    updated = gate_project.runpytest("--xai-update-baselines")
    updated.assert_outcomes(passed=4)
    updated.stdout.fnmatch_lines(["*baselines written to*0 updated, 4 new*"])
    baselines = gate_project.path / "baselines.json"
    values = _values(baselines)
    assert len(values) == 4 and all(v >= 0 for v in values.values())

    passed = gate_project.runpytest()
    passed.assert_outcomes(passed=4)
    passed.stdout.fnmatch_lines(["*xai-eval max sensitivity (profile quick, seed 0)*", "*tinynet.build*IG*a*pass*"])

    data = json.loads(baselines.read_text())
    entry = data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]
    recorded = entry["value"]
    entry["value"] = recorded * 1.0005  # within the numeric floor: unchanged
    baselines.write_text(json.dumps(data))
    gate_project.runpytest().assert_outcomes(passed=4)
    entry["value"] = recorded / 3
    baselines.write_text(json.dumps(data))
    regressed = gate_project.runpytest()
    regressed.assert_outcomes(passed=3, failed=1)
    regressed.stdout.fnmatch_lines(
        [
            "*max sensitivity of tinynet.build-IG-a changed: *(+200.00%); no seeds are recorded for it to rerun: record "
            "them with --xai-calibrate 5: changed, with no paired evidence of what it means*--xai-update-baselines*",
            "*xai-eval: 1 of 4 case(s) changed beyond the numeric floor: 1 changed, with no paired evidence*",
            "*to accept the new values run: pytest --xai-update-baselines 'test_gate.py::test_max_sensitivity?tinynet.build-IG-a?'",
        ]
    )


def test_update_keeps_entries_of_cases_not_run_and_counts_updates(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    baselines = gate_project.path / "baselines.json"
    data = json.loads(baselines.read_text())
    measured = data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]["value"]
    spread = {"min": measured * 0.9, "max": measured * 1.1, "mean": measured, "relative": 0.05, "k": 6}
    data["profiles"]["quick"]["tinynet.build"]["IG"]["a"].update(value=measured * 1.0005, spread=spread)  # within the floor
    data["profiles"]["paper"] = {"tinynet.other": {"IG": {"x": {"value": 1.0}}}}
    baselines.write_text(json.dumps(data))

    result = gate_project.runpytest("--xai-update-baselines", "-k", "IG-a")
    result.assert_outcomes(passed=1, deselected=3)
    result.stdout.fnmatch_lines(["*1 updated, 0 new*"])
    after = json.loads(baselines.read_text())
    assert after["profiles"]["paper"] == data["profiles"]["paper"]
    assert after["profiles"]["quick"]["tinynet.build"]["IG"]["a"]["value"] == measured
    assert after["profiles"]["quick"]["tinynet.build"]["IG"]["a"]["spread"] == spread, "the same value keeps its spread"
    assert after["profiles"]["quick"]["tinynet.build"]["LRP"] == data["profiles"]["quick"]["tinynet.build"]["LRP"]


def test_a_change_fails_by_default_and_under_the_lenient_policy_only_when_paired_reruns_say_worse(
    gate_project: pytest.Pytester,
) -> None:
    gate_project.runpytest("--xai-calibrate", "5").assert_outcomes(passed=4)
    baselines = gate_project.path / "baselines.json"
    data = json.loads(baselines.read_text())
    cases = data["profiles"]["quick"]["tinynet.build"]
    for method, image, factor in (("LRP", "b", 50.0), ("LRP", "a", 0.02)):  # as if recorded by another version
        entry = cases[method][image]
        entry["value"] *= factor
        entry["seeds"] = {seed: value * factor for seed, value in entry["seeds"].items()}
    ig = cases["IG"]["b"]  # only the draws: seed 0's and seed 10001's values swapped
    ig["value"], ig["seeds"]["10001"] = ig["seeds"]["10001"], ig["value"]
    baselines.write_text(json.dumps(data))
    strict = gate_project.runpytest("--xai-paired-reruns")
    strict.assert_outcomes(passed=1, failed=3)
    strict.stdout.fnmatch_lines([
        "*xai-eval: 3 of 4 case(s) changed beyond the numeric floor: 1 worse: the expected value moved (paired reruns), "
        "1 better: the expected value moved (paired reruns), 1 no evidence the expected value moved*",
    ])
    lenient = gate_project.runpytest("--xai-fail-on", "worse-beyond-noise", "--xai-paired-reruns")
    lenient.assert_outcomes(passed=3, failed=1)
    lenient.stdout.fnmatch_lines([
        "*max sensitivity of tinynet.build-LRP-a changed: *over 6 paired seeds: worse: the expected value moved*",
        "*quick/tinynet.build/IG/b: sensitivity noise*",
        "*quick/tinynet.build/LRP/a: sensitivity WORSE*",
        "*quick/tinynet.build/LRP/b: sensitivity better*",
    ])
    unpaired = gate_project.runpytest("--xai-fail-on", "worse-beyond-noise")  # no paired evidence: unknown fails
    unpaired.assert_outcomes(passed=1, failed=3)
    assert "within Monte-Carlo noise" not in unpaired.stdout.str() and "worse-beyond-noise)" not in unpaired.stdout.str()


def test_values_are_identical_on_rerun_in_reverse_order_and_with_k(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    first = _values(gate_project.path / "baselines.json")
    gate_project.makeconftest(
        """
        def pytest_collection_modifyitems(items):
            items.reverse()
        """
    )
    (gate_project.path / "baselines.json").unlink()
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    assert _values(gate_project.path / "baselines.json") == first
    (gate_project.path / "baselines.json").unlink()
    gate_project.runpytest("--xai-update-baselines", "-k", "LRP-b").assert_outcomes(passed=1, deselected=3)
    assert _values(gate_project.path / "baselines.json") == {k: v for k, v in first.items() if k[1:] == ("LRP", "b")}


def test_xdist_gives_the_serial_values(gate_project: pytest.Pytester) -> None:
    """Each xdist worker gets its share of the cores (cores / 2 threads each); a serial run with the same
    thread count gives bit-identical numbers, and one with all cores the same to float rounding."""
    pytest.importorskip("xdist")
    import os

    share = str(max(1, len(os.sched_getaffinity(0)) // 2))
    gate_project.runpytest("--xai-update-baselines", "--xai-threads", share, "--xai-results", "serial.json").assert_outcomes(passed=4)
    serial = _values(gate_project.path / "baselines.json")
    (gate_project.path / "baselines.json").unlink()
    result = gate_project.runpytest_subprocess("-n", "2", "--xai-update-baselines", "--xai-results", "xdist.json")
    result.assert_outcomes(passed=4)
    codes = [json.loads((gate_project.path / name).read_text())["run"]["code"] for name in ("serial.json", "xdist.json")]
    assert codes[0] == codes[1] and len(codes[0]["digest"]) == 16  # one code, whether the controller prepared or not
    share = max(1, len(os.sched_getaffinity(0)) // 2)
    result.stdout.fnmatch_lines([f"*{share} torch thread(s) per process (* usable core(s) / 2 worker(s))*"])
    assert _values(gate_project.path / "baselines.json") == serial
    (gate_project.path / "baselines.json").unlink()
    gate_project.runpytest("--xai-update-baselines", "--xai-threads", "2").assert_outcomes(passed=4)
    all_cores = _values(gate_project.path / "baselines.json")
    assert all_cores == pytest.approx(serial, rel=1e-5)


def test_results_option_writes_metric_and_sanity_json(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_sanity_small="""
        from xai_eval.measure import checks, sanity

        def test_well_formed(xai_case, xai_record):
            result = sanity.well_formed(xai_case.attribution(), xai_case.inputs, xai_case.reference_energy())
            xai_record("well_formed", ok=result.ok, detail=result.describe())
            assert result.ok

        def test_randomization(xai_case, xai_record):
            result = checks.randomization(xai_case.explainer, xai_case.inputs, xai_case.target,
                                          xai_case.attribution(), xai_case.last_block, 0)
            xai_record("randomization", **result.correlations)
        """
    )
    result = gate_project.runpytest("--xai-update-baselines", "--xai-results", "out/results.json")
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(["*xai-eval sanity (profile quick)*", "*results written to out/results.json*"])
    data = json.loads((gate_project.path / "out" / "results.json").read_text())
    assert data["schema_version"] == 2
    by_case = {(c["method"], c["image"]): c for c in data["cases"]}
    assert set(by_case) == {("IG", "a"), ("IG", "b"), ("LRP", "a"), ("LRP", "b")}
    case = by_case["IG", "a"]
    assert case["max_sensitivity"]["value"] >= 0 and case["max_sensitivity"]["status"] == "updated"
    assert case["sanity"]["well_formed"] == {"outcome": "passed", "ok": True, "detail": "well-formed"}
    assert set(case["sanity"]["randomization"]) == {"outcome", "last block", "whole network"}


def test_the_sanity_table_says_inconclusive_where_a_check_was(gate_project: pytest.Pytester) -> None:
    gate_project.makepyfile(
        test_sanity_small="""
        from xai_eval.measure.verdicts import Verdict

        def test_completeness(xai_case, xai_record):
            xai_record("completeness", relative_error=0.5)
            Verdict("inconclusive" if xai_case.key.image == "a" else "pass", "too few samples").enforce(xai_case.id)
        """
    )
    result = gate_project.runpytest("test_sanity_small.py")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*xai-eval sanity (profile quick)*"])
    rows = {tuple(line.split()[1:3]): line for line in result.stdout.lines if line.startswith("tinynet.build ")}
    assert rows.keys() == {("IG", "a"), ("IG", "b"), ("LRP", "a"), ("LRP", "b")}, result.stdout.str()
    assert all(("err 0.5 (inconclusive)" in line) == (image == "a") for (_, image), line in rows.items()), rows


def test_a_user_registered_method_runs_without_editing_xai_eval(gate_project: pytest.Pytester) -> None:
    gate_project.makeconftest(
        """
        from xai_eval.explain.methods import MethodSpec, register_method

        register_method(MethodSpec(
            name="Saliency",
            captum_class="captum.attr.Saliency",
            attribute_kwargs={"quick": {"abs": True}, "paper": {"abs": True}},
        ), replace=True)
        """
    )
    # in a subprocess: the registry is process-wide and must not leak into the other tests
    result = gate_project.runpytest_subprocess("--xai-method", "Saliency", "--xai-update-baselines")
    result.assert_outcomes(passed=2)
    assert set(_values(gate_project.path / "baselines.json")) == {("tinynet.build", "Saliency", "a"), ("tinynet.build", "Saliency", "b")}


def _printed_commands(lines: list[str]) -> list[str]:
    """The pytest commands xai-eval printed, each from its ``pytest`` on: pytest's own FAILED lines put the
    test's node id (with xdist's ``@group`` suffix, which is not ours to strip) before the message."""
    return [line[m.start() + 1 :] for line in lines if (m := re.search(r" pytest (['\"]|--xai|suites/)", line))]


def test_xdist_runs_each_case_whole_on_one_worker(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bare ``-n 2`` distributes whole cases (``--dist loadgroup``), so no case is built by both workers;
    the group suffix xdist adds to node ids never reaches a command the summary prints."""
    pytest.importorskip("xdist")

    gate_project.makepyfile(
        test_more="""
        def test_well_formed(xai_case):
            assert xai_case.attribution().isfinite().all()

        def test_shape(xai_case):
            assert xai_case.attribution().shape == xai_case.inputs.shape
        """
    )
    monkeypatch.setenv("CI", "1")  # as on CI: pytest's FAILED lines then carry the whole message, untrimmed
    result = gate_project.runpytest_subprocess("-n", "2", "-v")
    result.assert_outcomes(passed=8, failed=4)  # the gate's 4 baselines are missing
    workers: dict[str, set[str]] = {}
    for worker, case in re.findall(r"\[(gw\d)\][^\n]*?::test_\w+\[([^\]]+)\]@xai-case=", result.stdout.str()):
        workers.setdefault(case, set()).add(worker)
    assert sorted(workers) == ["tinynet.build-IG-a", "tinynet.build-IG-b", "tinynet.build-LRP-a", "tinynet.build-LRP-b"]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    result.stdout.fnmatch_lines(["*to accept the new values run: pytest --xai-update-baselines 'test_gate.py::test_max_sensitivity?tinynet.build-*'"])
    commands = _printed_commands(result.stdout.lines)
    assert commands and not any("@" in command for command in commands), commands

    explicit = gate_project.runpytest_subprocess("-n", "2", "-v", "--dist", "load")
    explicit.assert_outcomes(passed=8, failed=4)
    assert "@xai-case=" not in explicit.stdout.str()  # a --dist the user chose is kept


def test_xdist_commands_stay_runnable_when_a_test_has_its_own_group(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's own ``xdist_group`` is kept (xdist then appends ``@gpu``), and the commands xai-eval prints
    still name the test as pytest can select it."""
    pytest.importorskip("xdist")
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    baselines = gate_project.path / "baselines.json"
    data = json.loads(baselines.read_text())
    del data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]
    baselines.write_text(json.dumps(data))
    gate_project.makepyfile(
        test_gate="""
        import pytest

        @pytest.mark.xdist_group("gpu")
        def test_max_sensitivity(xai_case, xai_baselines):
            xai_baselines.check(xai_case, xai_case.max_sensitivity())
        """
    )
    monkeypatch.setenv("CI", "1")
    result = gate_project.runpytest_subprocess("-n", "2", "-v")
    result.assert_outcomes(passed=3, failed=1)
    assert "]@gpu" in result.stdout.str()  # the user's group, not xai-eval's
    result.stdout.fnmatch_lines([
        "*create it with: pytest 'test_gate.py::test_max_sensitivity?tinynet.build-IG-a?' --xai-update-baselines*",
        "*to accept the new values run: pytest --xai-update-baselines 'test_gate.py::test_max_sensitivity?tinynet.build-IG-a?'",
    ])
    commands = _printed_commands(result.stdout.lines)
    assert commands and not any("@" in command for command in commands), commands


def test_xdist_mode_of_a_project_without_xai_eval_is_left_alone(pytester: pytest.Pytester) -> None:
    """Installing xai-eval does not change how other projects' ``-n`` runs are distributed; an ``--xai-*``
    option (or a ``[tool.xai_eval]`` table) is what opts a run in."""
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.mark.xdist_group("db")
        def test_one():
            pass

        def test_two():
            pass
        """
    )
    plain = pytester.runpytest_subprocess("-n", "2", "-v")
    plain.assert_outcomes(passed=2)
    plain.stdout.fnmatch_lines(["*scheduling tests via LoadScheduling*"])
    assert "@db" not in plain.stdout.str()
    opted_in = pytester.runpytest_subprocess("-n", "2", "-v", "--xai-seed", "0")
    opted_in.assert_outcomes(passed=2)
    opted_in.stdout.fnmatch_lines(["*scheduling tests via LoadGroupScheduling*"])
