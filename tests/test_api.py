"""The Python API (``xai_eval.evaluate``): one implementation with the gate, its verdicts as data, its files
the CLI's, and the gate's one-line errors for bad arguments."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

SUITES = Path(__file__).resolve().parents[1] / "suites"
METHODS = ["IG", "IG-VG", "GradientSHAP", "LRP", "GuidedBackprop", "GuidedGradCAM"]
"""Methods whose every check the tiny model runs (Occlusion's 48-pixel window does not fit its 16-pixel photos).
Guided Backprop's known randomisation failure does not hold on the untrained tiny model: the shipped entry is not
strict, so the gate reports and records an XPASS (a pass), and the API must record the same outcome."""
CLOCK = {"seconds"}
"""What a record says about the clock, not about the numbers computed."""


@pytest.fixture
def suites_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    """The tiny model's project with the shipped suites and a baselines folder."""
    gate_project.makepyprojecttoml(textwrap.dedent(f"""
        [tool.xai_eval]
        models = ["tinynet:build"]
        methods = {json.dumps(METHODS)}
        images = "images"
        baselines = "baselines"
    """))
    (gate_project.path / "test_gate.py").unlink()
    suites = gate_project.mkdir("suites")
    for path in SUITES.glob("test_*.py"):
        (suites / path.name).write_text(path.read_text())
    return gate_project


def _numbers(record: dict[str, Any]) -> dict[str, Any]:
    """A case record without what the clock decides."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in CLOCK}
        return value

    return strip(record)


def _cases(path: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    data = json.loads(path.read_text())
    return {(c["model"], c["method"], c["image"]): _numbers(c) for c in data["cases"]}


def test_the_api_and_the_gate_record_identical_numbers(suites_project: pytest.Pytester) -> None:
    import xai_eval

    record = suites_project.runpytest("suites/", "--xai-update-baselines", "-p", "no:cacheprovider")
    assert record.parseoutcomes().get("failed", 0) == 0, record.stdout.str()[-3000:]
    gate = suites_project.runpytest("suites/", "--xai-results", "gate.json", "-p", "no:cacheprovider", "-rfX")
    # the tiny model's Guided Backprop passes randomisation: the shipped known failure is not strict, so an XPASS
    assert gate.parseoutcomes().get("xpassed", 0) == 2 and "failed" not in gate.parseoutcomes(), gate.stdout.str()[-3000:]
    assert sum(line.startswith("XPASS") and "GuidedBackprop" in line for line in gate.stdout.lines) == 2
    path = suites_project.path
    run = xai_eval.evaluate(model="tinynet:build", images=path / "images", methods=METHODS,
                            pyproject=path / "pyproject.toml", progress=False)
    verdicts = run.check(baselines=path / "baselines")
    run.save(path / "api.json")
    gate_cases, api_cases = _cases(path / "gate.json"), _cases(path / "api.json")
    assert set(gate_cases) == set(api_cases) and len(api_cases) == len(METHODS) * 2
    for key, recorded in gate_cases.items():
        # every metric with its details and verdict, every sanity value and outcome, the snapshot's scale, channel
        # norms and distance to the recorded map (0: the same float16 map), the fingerprint
        assert api_cases[key] == recorded, key
    assert all(c["snapshot"]["relative_l2"] == 0.0 and c["snapshot"]["status"] == "pass" for c in api_cases.values())
    assert {c["sanity"]["randomization"]["outcome"] for k, c in api_cases.items() if k[1] == "GuidedBackprop"} == {"xpassed"}
    # what the gate recorded, the API's check passes: at the numeric floor, nothing moved
    failing = verdicts[verdicts["verdict"] != "pass"]
    assert failing.empty, failing.to_string()
    gated = verdicts[~verdicts["check"].str.startswith("sanity")]
    assert len(gated) == len(api_cases) * (len(run.session.profile.metrics) + 2)
    # the comparison sees a difference where there is one: another seed moves GradientSHAP's draws
    other = xai_eval.evaluate(model="tinynet:build", images=path / "images", methods=["GradientSHAP"], seed=1,
                              sanity=False, progress=False)
    reseeded = {(r.key.image, r.metric): r.value for r in other.results}
    assert any(reseeded[key[2], "max_sensitivity"] != case["max_sensitivity"]["value"]
               for key, case in gate_cases.items() if key[1] == "GradientSHAP")
    table = run.table()
    assert list(table.columns[:3]) == ["model", "method", "image"] and len(table) == len(api_cases)
    assert {"max_sensitivity", "road", "sanity well_formed", "seconds"} <= set(table.columns)
    assert table["seconds"].gt(0).all()


def test_check_reports_a_change_as_the_gate_does(suites_project: pytest.Pytester) -> None:
    import xai_eval

    suites_project.runpytest("suites/test_sensitivity.py", "--xai-update-baselines", "-p", "no:cacheprovider")
    path = suites_project.path
    baselines = path / "baselines" / "max_sensitivity.json"
    data = json.loads(baselines.read_text())
    entry = data["profiles"]["quick"]["tinynet.build"]["IG"]["a"]
    entry["value"] *= 1.5  # the recorded value of one case differs from what is computed now
    baselines.write_text(json.dumps(data))
    run = xai_eval.evaluate(model="tinynet:build", images=path / "images", methods=["IG"], sanity=False, progress=False)
    verdicts = run.check(baselines=path / "baselines")
    sensitivity = verdicts[verdicts["check"] == "max_sensitivity"].set_index("image")
    assert sensitivity.loc["a", "verdict"] == "fail" and sensitivity.loc["a", "meaning"] == "unknown"
    assert "max sensitivity of tinynet.build-IG-a changed" in sensitivity.loc["a", "message"]
    assert sensitivity.loc["b", "verdict"] == "pass"
    # the metrics never recorded are missing, with the command that records them
    road = verdicts[verdicts["check"] == "road"]
    assert set(road["verdict"]) == {"missing"} and road["message"].str.contains("--xai-update-baselines").all()
    # an entry missing from a recorded file names the shipped suite's test that records it
    del data["profiles"]["quick"]["tinynet.build"]["IG"]["b"]
    baselines.write_text(json.dumps(data))
    again = run.check(baselines=path / "baselines")
    missing = again[(again["check"] == "max_sensitivity") & (again["image"] == "b")]["message"].iloc[0]
    assert "create it with: pytest 'suites/test_sensitivity.py::test_max_sensitivity[tinynet.build-IG-b]' " \
           "--xai-update-baselines" in missing


def test_a_module_with_its_transform_is_evaluated_and_never_changed(gate_project: pytest.Pytester) -> None:
    import torch

    import tinynet  # the project's module (gate_project puts it on sys.path)
    import xai_eval

    bundle = tinynet.build()
    before = {k: v.clone() for k, v in bundle.model.state_dict().items()}
    mode = bundle.model.training
    run = xai_eval.evaluate(model=bundle.model, transform=bundle.transform, gradcam_layer="conv2", name="tiny",
                            images=gate_project.path / "images", methods=["IG", "LRP"], sanity=False, progress=False)
    table = run.table()
    assert set(table["model"]) == {"tiny"} and table["max_sensitivity"].map(math.isfinite).all()
    assert bundle.model.training is mode  # the caller's module keeps its mode ...
    assert all(torch.equal(before[k], v) for k, v in bundle.model.state_dict().items())  # ... and its weights
    assert all(p.requires_grad for p in bundle.model.parameters())  # the gate's copy is frozen, not the caller's


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"model": "nosuchmodule:build"}, "evaluate(model=...): cannot import module 'nosuchmodule'"),
        ({"threads": 0}, "evaluate(threads=...): expected a whole number >= 1"),
        ({"methods": ["IGG"]}, "unknown method 'IGG'"),
        ({"profile": "quik"}, "unknown profile 'quik'"),
        ({"seed": -1}, "evaluate(seed=...): expected a whole number >= 0"),
        ({"model": 3}, "evaluate(model=...): expected a built-in name, 'module:callable', a ModelBundle or an nn.Module"),
        ({"images": "no/such/folder"}, "no/such/folder/manifest.toml: no image manifest"),
        ({"pyproject": "missing.toml"}, "evaluate(pyproject=...): missing.toml: no such file"),
    ],
)
def test_bad_arguments_get_the_gates_one_line_errors(kwargs: dict[str, Any], fragment: str) -> None:
    import xai_eval
    from xai_eval.errors import XaiEvalError

    with pytest.raises(XaiEvalError) as raised:
        xai_eval.evaluate(**{"progress": False, **kwargs})
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_a_module_without_its_transform_is_refused() -> None:
    from torch import nn

    import xai_eval
    from xai_eval.errors import XaiEvalError

    with pytest.raises(XaiEvalError, match=r"pass its preprocessing \(transform=...\) and the layer"):
        xai_eval.evaluate(model=nn.Linear(2, 2), progress=False)
