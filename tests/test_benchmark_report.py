"""Runtime cases: pytest-benchmark JSON with xai-eval's extra_info and machine_info fields."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.fixture
def runtime_project(gate_project: pytest.Pytester) -> pytest.Pytester:
    gate_project.makepyfile(
        test_runtime="""
        import pytest

        @pytest.mark.xai_one_image
        def test_runtime(xai_case, xai_benchmark):
            xai_benchmark(xai_case)
        """
    )
    return gate_project


def test_benchmark_json_is_self_contained(runtime_project: pytest.Pytester) -> None:
    result = runtime_project.runpytest("--xai-update-baselines", "--benchmark-json=run.json", "--xai-benchmark-rounds", "2")
    result.assert_outcomes(passed=6)
    data = json.loads((runtime_project.path / "run.json").read_text())

    machine = data["machine_info"]
    assert machine["torch_num_threads"] == torch.get_num_threads()
    assert machine["cuda_version"] == torch.version.cuda
    assert "gpu" in machine and machine["xai_device"] == "cpu"

    benchmarks = {b["extra_info"]["xai_eval"]["method"]: b for b in data["benchmarks"]}
    assert set(benchmarks) == {"IG", "LRP"}
    info = benchmarks["IG"]["extra_info"]["xai_eval"]
    assert {k: info[k] for k in ("model", "profile", "image", "device", "dtype")} == {
        "model": "tinynet.build", "profile": "quick", "image": "a", "device": "cpu", "dtype": "float32"}
    assert set(info["versions"]) == {"torch", "torchvision", "captum", "xai_eval"}
    assert set(info["max_sensitivity"]) == {"a", "b"}, "metric values of every image of the method"
    assert benchmarks["IG"]["stats"]["rounds"] == 2
    assert info["attribution"]["shape"] == [16, 16]
    assert "tinynet.build/a" in data["xai_eval"]["images_png_base64"]

    import xai_eval

    assert data["xai_eval"]["versions"]["xai_eval"] == xai_eval.__version__
    work = data["xai_eval"]["work"]
    assert work["models"] == ["tinynet.build"] and work["methods"] == ["IG", "LRP"]
    assert set(work["photos"]) == {"a", "b"} and all(len(digest) == 16 for digest in work["photos"].values())
    assert work["profile_settings"]["n_perturb_samples"] > 0 and work["profile_settings"]["base"] == "quick"


def test_report_cli_reads_a_fresh_run(runtime_project: pytest.Pytester) -> None:
    from xai_eval.report.cli import main

    runtime_project.runpytest("--xai-update-baselines", "--benchmark-json=run.json").assert_outcomes(passed=6)
    out = runtime_project.path / "report"
    assert main(["report", str(runtime_project.path / "run.json"), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"table.md", "table.csv", "fig1.png", "report.html"}
    assert main(["compare", str(runtime_project.path / "run.json"), str(runtime_project.path / "run.json")]) == 0
