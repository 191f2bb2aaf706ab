"""Models and images: the offline model's top-1 on the fixtures and ResNet-18 weight resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from xai_eval.errors import XaiEvalError
from xai_eval.config.images import load_manifest
from xai_eval.models import ModelBundle, WeightsMissing, load_model
from xai_eval.models.registry import RESNET18_ENV, RESNET18_FILE, resnet18_weights_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"


@pytest.fixture(scope="module")
def lite0() -> ModelBundle:
    return load_model("efficientnet_lite0", 224)


@pytest.mark.parametrize("entry", load_manifest(FIXTURES), ids=lambda e: e.id)
def test_efficientnet_lite0_classifies_every_fixture_photo(lite0: ModelBundle, entry) -> None:
    with torch.no_grad():
        logits = lite0.model(lite0.transform(entry.load()).unsqueeze(0))
    top1 = int(logits.argmax())
    assert top1 == entry.label, f"{entry.id}: predicted {lite0.categories[top1]}, manifest says {entry.class_name}"
    assert lite0.categories[entry.label] == entry.class_name


def test_fixture_manifest_has_provenance() -> None:
    entries = load_manifest(FIXTURES)
    assert len(entries) >= 3
    assert all(e.source and e.licence for e in entries)


@pytest.fixture
def resnet_state(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / RESNET18_FILE
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.delenv(RESNET18_ENV, raising=False)
    return hub


def test_resnet18_missing_weights_name_the_fetch_command(empty_hub: Path) -> None:
    with pytest.raises(WeightsMissing, match=r"fetch them on a networked machine with: python -c .*resnet18\(weights='IMAGENET1K_V1'\)"):
        load_model("resnet18", 224)


def test_resnet18_from_hub_cache(empty_hub: Path, resnet_state: Path) -> None:
    (empty_hub / "checkpoints").mkdir(parents=True)
    cached = empty_hub / "checkpoints" / RESNET18_FILE
    resnet_state.rename(cached)
    assert resnet18_weights_path() == cached
    bundle = load_model("resnet18", 64)
    expected = torch.load(cached, weights_only=True)
    assert torch.equal(bundle.model.state_dict()["fc.weight"], expected["fc.weight"])
    assert bundle.gradcam_layer == "layer4" and bundle.name == "resnet18"


def test_resnet18_from_env_and_explicit_path(empty_hub: Path, resnet_state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RESNET18_ENV, str(resnet_state))
    assert resnet18_weights_path() == resnet_state
    assert resnet18_weights_path(str(resnet_state)) == resnet_state
    monkeypatch.setenv(RESNET18_ENV, str(resnet_state.parent / "nope.pth"))
    with pytest.raises(XaiEvalError, match=r"\$XAI_EVAL_RESNET18_WEIGHTS: no weights file"):
        resnet18_weights_path()


def test_resnet18_corrupt_weights_is_one_line(empty_hub: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(XaiEvalError, match="not a ResNet-18 state dict") as info:
        load_model("resnet18", 64, resnet18_weights=str(bad))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:build", "cannot import module 'no_such_module_xyz'"),
        ("json:no_such_attr", "has no attribute 'no_such_attr'"),
        ("json:__doc__", "is not callable"),
        ("plainname", "neither a built-in model"),
        ("json:dumps", "raised TypeError"),
    ],
)
def test_bad_model_specs(spec: str, message: str) -> None:
    with pytest.raises(XaiEvalError, match=message):
        load_model(spec, 32)


def test_factory_must_return_a_bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "badfactory.py").write_text("def build():\n    return 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(XaiEvalError, match="returned int; return xai_eval.models.ModelBundle"):
        load_model("badfactory:build", 32)
