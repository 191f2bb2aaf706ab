"""The shipped suites on other models and profiles: ResNet-18 from a weights file, and the paper profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SUITES = Path(__file__).resolve().parents[1] / "suites"


def _copy_suite(project: pytest.Pytester, name: str) -> None:
    (project.path / name).write_text((SUITES / name).read_text())


def test_resnet18_from_a_weights_file_passes_conservation_and_well_formed(gate_project: pytest.Pytester, tmp_path: Path) -> None:
    import torch
    import torchvision

    torch.manual_seed(0)
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), weights)
    _copy_suite(gate_project, "test_sanity.py")
    result = gate_project.runpytest(
        "test_sanity.py", "--xai-model", "resnet18", "--xai-resnet18-weights", str(weights),
        "--xai-method", "LRP", "--xai-method", "GuidedGradCAM", "-k", "conservation or well_formed",
        "--xai-results", "results.json",
    )
    result.assert_outcomes(passed=6)
    cases = json.loads((gate_project.path / "results.json").read_text())["cases"]
    lrp = next(c for c in cases if c["method"] == "LRP" and "conservation" in c["sanity"])
    assert lrp["model"] == "resnet18"
    assert lrp["sanity"]["conservation"]["bias_free_relative_error"] <= 1e-3


def test_paper_profile_settings_are_accepted_by_captum(gate_project: pytest.Pytester) -> None:
    methods = ["IG", "IG-SG", "IG-VG", "GradientSHAP", "Occlusion", "LRP", "GuidedBackprop", "GuidedGradCAM"]
    args = [arg for method in methods for arg in ("--xai-method", method)]
    result = gate_project.runpytest("--xai-profile", "paper", "--xai-update-baselines", *args)
    result.assert_outcomes(passed=16)
    data = json.loads((gate_project.path / "baselines.json").read_text())
    assert set(data["profiles"]) == {"paper"}
    assert set(data["profiles"]["paper"]["tinynet.build"]) == set(methods)
