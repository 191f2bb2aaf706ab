"""Bad input: one line naming the file, option or entry and the fix; non-zero exit; no traceback."""

from __future__ import annotations

import pytest

from .conftest import MANIFEST


def _assert_one_line_error(result: pytest.RunResult, fragment: str) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0
    lines = [line for line in output.splitlines() if fragment in line]
    assert lines, output
    assert "Traceback" not in output and "site-packages/torch" not in output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--xai-model", "nope"], "ERROR: --xai-model: 'nope' is neither a built-in model"),
        (["--xai-model", "missing_module_q:build"], "ERROR: --xai-model: cannot import module 'missing_module_q'"),
        (["--xai-method", "Nope"], "ERROR: --xai-method: unknown method 'Nope'; choose from IG"),
        (["--xai-profile", "slow"], "ERROR: --xai-profile: unknown profile 'slow'; choose one of quick, paper"),
    ],
)
def test_unknown_names_are_usage_errors(gate_project: pytest.Pytester, args: list[str], fragment: str) -> None:
    result = gate_project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_corrupt_image(gate_project: pytest.Pytester) -> None:
    (gate_project.path / "images" / "b.png").write_bytes(b"garbage")
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, "b.png: cannot read image of manifest entry 'b'")


def test_malformed_baselines(gate_project: pytest.Pytester) -> None:
    (gate_project.path / "baselines.json").write_text('{"schema_version": 7, "profiles": {}}')
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, "baselines.json: schema_version 7 is not supported (expected 3); regenerate it with --xai-update-baselines")


def test_unknown_pyproject_key(gate_project: pytest.Pytester) -> None:
    gate_project.makepyprojecttoml('[tool.xai_eval]\nmodel = "x"\n')
    result = gate_project.runpytest()
    _assert_one_line_error(result, "[tool.xai_eval] has unknown key(s) model")


def test_label_outside_model_classes(gate_project: pytest.Pytester) -> None:
    (gate_project.path / "images" / "manifest.toml").write_text(MANIFEST.format(id="a", file="a.png", label=12))
    result = gate_project.runpytest()
    result.assert_outcomes(errors=2)
    _assert_one_line_error(result, "manifest.toml: entry 'a' has label 12, but model tinynet.build has 10 classes; use a label in 0..9")


def test_nan_attributions(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest("--xai-model", "tinynet:build_nan", "--xai-method", "IG")
    result.assert_outcomes(failed=2)
    _assert_one_line_error(result, "method IG: attribution has")


def test_missing_weights_skip_and_strict_fail(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(gate_project.path / "torch-home"))
    monkeypatch.delenv("XAI_EVAL_RESNET18_WEIGHTS", raising=False)
    skipped = gate_project.runpytest("--xai-model", "resnet18", "-rs")
    skipped.assert_outcomes(skipped=4)
    skipped.stdout.fnmatch_lines(["*ResNet-18 weights not found*fetch them on a networked machine with: python -c*"])
    strict = gate_project.runpytest("--xai-model", "resnet18", "--xai-strict-weights")
    strict.assert_outcomes(errors=4)
    _assert_one_line_error(strict, "(failing because of --xai-strict-weights)")


def _no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process look like a machine without CUDA (the real state where the tests run)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_missing_device_skips_every_case_and_the_run_fails(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_cuda(monkeypatch)
    result = gate_project.runpytest("--xai-device", "cuda", "-rs")
    result.assert_outcomes(skipped=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, "a run in which every case skipped must not go green"
    result.stdout.fnmatch_lines([
        "*xai-eval: 4 case(s) skipped: 4 missing device; run with --xai-strict (as CI should) to fail the cases that did not run*",
        "*every case skipped, so nothing was gated; failing the run*",
        "*missing device: --xai-device cuda: no CUDA device on this machine*",
    ])


def test_strict_turns_every_skip_into_a_failure(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_cuda(monkeypatch)
    result = gate_project.runpytest("--xai-device", "cuda", "--xai-strict")
    result.assert_outcomes(errors=4)
    _assert_one_line_error(result, "no CUDA device on this machine; run on a GPU machine or use --xai-device cpu (failing because of --xai-strict")


def test_strict_in_pyproject_fails_a_not_applicable_case(gate_project: pytest.Pytester) -> None:
    gate_project.makepyprojecttoml(
        '[tool.xai_eval]\nmodels = ["tinynet:build_silu"]\nmethods = ["LRP"]\nimages = "images"\nbaselines = "b.json"\nstrict = true\n'
    )
    result = gate_project.runpytest("--xai-update-baselines")
    result.assert_outcomes(errors=2)
    _assert_one_line_error(result, "not applicable: LRP has no sound rule for layer relu2 (SiLU); set a captum")
    _assert_one_line_error(result, "(failing because of --xai-strict: a configured case must run)")


def test_some_skips_keep_the_run_green_and_are_counted(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest("--xai-model", "tinynet:build_silu", "--xai-update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*xai-eval: 2 case(s) skipped: 2 not applicable; run with --xai-strict*"])


def test_cuda_index_beyond_the_devices_is_a_skip_with_the_fix(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    result = gate_project.runpytest("--xai-device", "cuda:7", "-rs")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*--xai-device cuda:7: this machine has 1 CUDA device(s), numbered from 0; use --xai-device cuda:0*"])


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ("images = 5", "[tool.xai_eval] images: expected a path string, got 5"),
        ('strict_weights = "false"', "[tool.xai_eval] strict_weights: expected true or false (a TOML boolean, unquoted), got 'false'"),
        ('strict = "yes"', "[tool.xai_eval] strict: expected true or false"),
        ("seed = -1", "[tool.xai_eval] seed: expected a whole number >= 0, got -1"),
        ("threads = 0", "[tool.xai_eval] threads: expected a whole number >= 1, got 0"),
        ('baselines = ["a"]', "[tool.xai_eval] baselines: expected a path string"),
        ('profile = 3', "[tool.xai_eval] profile: expected a string, got 3"),
    ],
)
def test_wrongly_typed_pyproject_values(gate_project: pytest.Pytester, table: str, fragment: str) -> None:
    gate_project.makepyprojecttoml(f'[tool.xai_eval]\nmodels = ["tinynet:build"]\n{table}\n')
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_baselines_path_that_is_a_folder(gate_project: pytest.Pytester) -> None:
    (gate_project.path / "baselines.json").mkdir()
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, "baselines.json: is a folder, not a baselines file")


@pytest.mark.parametrize(
    ("profiles", "fragment"),
    [
        ({"quik": {"tinynet.build": {"IG": {"a": {"value": 1.0}}}}}, "profiles.quik: unknown profile"),
        ({"quick": {"tinynet.build": {"IGG": {"a": {"value": 1.0}}}}}, "profiles.quick.tinynet.build.IGG: unknown method"),
        ({"quick": {"resnet": {"IG": {"a": {"value": 1.0}}}}}, "profiles.quick.resnet: unknown model"),
        ({"quick": {"tinynet.build": {"IG": {"a": {"value": 1.0, "rtoll": 0.1}}}}}, "unknown key 'rtoll'"),
    ],
)
def test_unknown_keys_in_the_baselines_file(gate_project: pytest.Pytester, profiles: dict, fragment: str) -> None:
    import json

    (gate_project.path / "baselines.json").write_text(json.dumps({"schema_version": 2, "profiles": profiles}))
    result = gate_project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    _assert_one_line_error(result, fragment)


def test_nan_max_sensitivity_fails_and_is_never_accepted(gate_project: pytest.Pytester) -> None:
    gate_project.makeconftest(
        """
        import pytest
        from xai_eval.engine.cases import CaseRun

        @pytest.fixture(autouse=True)
        def nan_metric(monkeypatch):
            monkeypatch.setattr(CaseRun, "max_sensitivity", lambda self, run_seed=None: float("nan"))
        """
    )
    result = gate_project.runpytest("--xai-update-baselines")
    result.assert_outcomes(failed=4)
    _assert_one_line_error(result, "max sensitivity of tinynet.build-IG-a is nan (not a number)")
    assert not (gate_project.path / "baselines.json").exists() or "nan" not in (gate_project.path / "baselines.json").read_text()


def test_accept_command_lists_every_failing_case_and_drops_k(gate_project: pytest.Pytester) -> None:
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    import json

    path = gate_project.path / "baselines.json"
    data = json.loads(path.read_text())
    for methods in data["profiles"]["quick"].values():
        for images in methods.values():
            for entry in images.values():
                entry.update(value=entry["value"] / 10)
    path.write_text(json.dumps(data))
    result = gate_project.runpytest("-k", "a or b", "--xai-seed", "0")
    result.assert_outcomes(failed=4)
    line = next(line for line in result.stdout.lines if "to accept the new values run" in line)
    assert " -k " not in line and "--xai-seed 0 --xai-update-baselines" in line
    assert all(f"tinynet.build-{m}-{i}]" in line for m in ("IG", "LRP") for i in ("a", "b"))


def test_lrp_without_a_sound_rule_is_reported_not_applicable(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest("--xai-model", "tinynet:build_silu", "-rs", "--xai-update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*not applicable: LRP has no sound rule for layer relu2 (SiLU)*"])


def test_strict_keeps_an_inconclusive_check_visible_but_does_not_fail_it(gate_project: pytest.Pytester) -> None:
    """Strict fails cases that did not run; an inconclusive check ran and said so (never a pass)."""
    gate_project.makepyfile(
        test_inconclusive="""
        from xai_eval.measure.verdicts import Verdict

        def test_check(xai_case):
            Verdict("inconclusive", "too few samples").enforce(xai_case.id)
        """
    )
    result = gate_project.runpytest("test_inconclusive.py", "--xai-strict")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*xai-eval: 4 case(s) skipped: 4 inconclusive; an inconclusive check ran and could not decide (never a pass)"])


def test_an_inconclusive_fixture_is_a_skip_too(gate_project: pytest.Pytester) -> None:
    """A check a user's fixture decides (setup) or a teardown that cannot decide is inconclusive, never an error."""
    gate_project.makepyfile(
        test_inconclusive_fixture="""
        import pytest
        from xai_eval.errors import Inconclusive

        @pytest.fixture
        def undecided(xai_case):
            raise Inconclusive(f"inconclusive: {xai_case.id}: the fixture could not decide")

        @pytest.fixture
        def undecided_at_teardown(xai_case):
            yield
            raise Inconclusive(f"inconclusive: {xai_case.id}: teardown could not decide")

        def test_setup(undecided):
            pass

        def test_teardown(undecided_at_teardown):
            pass
        """
    )
    result = gate_project.runpytest("test_inconclusive_fixture.py", "--xai-strict", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0 and outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["skipped"] == 8 and outcomes["passed"] == 4  # a teardown skip follows the call's pass
    result.stdout.fnmatch_lines(["*inconclusive: tinynet.build-IG-a: the fixture could not decide*"])


TRAIN_MODE_MODELS = """
import torch
from torch import nn
import tinynet


def with_layer(layer, train):
    def build(image_size=16):
        bundle = tinynet.build(image_size)
        bundle.model.conv2 = nn.Sequential(bundle.model.conv2, layer)
        bundle.model.train(train)
        return bundle
    return build


batchnorm_train = with_layer(nn.BatchNorm2d(8), True)
batchnorm_eval = with_layer(nn.BatchNorm2d(8), False)
dropout_zero_train = with_layer(nn.Dropout(p=0.0), True)
"""


@pytest.mark.parametrize(("factory", "refused"), [("batchnorm_train", True), ("batchnorm_eval", False), ("dropout_zero_train", False)])
def test_model_left_in_training_mode_is_refused_in_one_line(gate_project: pytest.Pytester, factory: str, refused: bool) -> None:
    gate_project.makepyfile(trainmode=TRAIN_MODE_MODELS)
    result = gate_project.runpytest("--xai-model", f"trainmode:{factory}", "--xai-method", "IG", "--xai-update-baselines")
    if refused:
        result.assert_outcomes(errors=2)
        _assert_one_line_error(result, "model trainmode:batchnorm_train: BatchNorm2d 'conv2.1' is in training mode, so its output "
                               "depends on the batch and dropout draws; return model.eval() from the model factory")
    else:  # eval mode, or a module whose output does not depend on the mode
        result.assert_outcomes(passed=2)
