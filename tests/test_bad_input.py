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
    _assert_one_line_error(result, "baselines.json: schema_version 7 is not supported (expected 1); regenerate it with --xai-update-baselines")


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


def test_cuda_device_without_gpu_is_skipped_with_reason(gate_project: pytest.Pytester) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the skip path needs a machine without it")
    result = gate_project.runpytest("--xai-device", "cuda", "-rs")
    result.assert_outcomes(skipped=4)
    result.stdout.fnmatch_lines(["*no CUDA device on this machine*"])


def test_lrp_without_a_sound_rule_is_reported_not_applicable(gate_project: pytest.Pytester) -> None:
    result = gate_project.runpytest("--xai-model", "tinynet:build_silu", "-rs", "--xai-update-baselines")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*not applicable: LRP has no sound rule for layer relu2 (SiLU)*"])
