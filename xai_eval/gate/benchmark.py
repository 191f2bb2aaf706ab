"""Runtime cases with pytest-benchmark, and what xai-eval adds to its JSON report.

Each benchmark times one attribution call of the active profile. Its ``extra_info``
identifies the case and carries a float16 snapshot of the attribution, so
``xai-eval report`` can draw Fig. 1 without the model. At the end of the run,
``pytest_benchmark_update_json`` adds the max-sensitivity values, every other
metric's values (``metrics``) and the sanity results the run computed, whatever
the test order was, and once, at the top level, what each metric is (its label
and which direction is better), so a report needs no registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xai_eval.engine.provenance import versions
from xai_eval.records.maps import EXTRA_INFO_KEY, encode_map, encode_png

if TYPE_CHECKING:
    from xai_eval.engine.cases import CaseRun
    from xai_eval.engine.session import XaiSession


DEFAULT_ROUNDS = 3


def machine_info_extras(session: XaiSession) -> dict[str, Any]:
    """What pytest-benchmark's machine_info leaves out: GPU, CUDA, torch threads, and the run's seed."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "cuda_version": torch.version.cuda,
        "cuda_available": cuda,
        "torch_num_threads": session.threads,
        "torch_version": torch.__version__,
        "xai_device": session.settings.device,
        "xai_seed": session.settings.seed,
    }


def time_attribution(benchmark: Any, case: CaseRun, *, rounds: int) -> None:
    """Time one attribution call of ``case`` (pedantic: ``rounds`` rounds of 1 call, after the case's clean
    attribution as the warm-up)."""
    import torch

    synchronize = torch.cuda.synchronize if case.inputs.device.type == "cuda" else (lambda: None)

    def attribute_once() -> None:
        case.explainer(case.inputs, target=case.target)
        synchronize()  # CUDA runs asynchronously: the timer must see the finished work

    benchmark.group = f"{case.key.model} ({case.profile.name})"
    benchmark.extra_info[EXTRA_INFO_KEY] = {
        "model": case.key.model,
        "method": case.key.method,
        "profile": case.key.profile,
        "image": case.key.image,
        "device": str(case.inputs.device),
        "dtype": str(case.inputs.dtype).removeprefix("torch."),
        "versions": versions(),
        "attribution": encode_map(case.attribution()),
    }
    # The case's clean attribution, computed just above (or earlier in the run) by this explainer on this
    # input, is the warm-up round: a further untimed call would only repeat it.
    benchmark.pedantic(attribute_once, rounds=rounds, iterations=1, warmup_rounds=0)


def enrich_json(output_json: dict[str, Any], session: XaiSession) -> None:
    """Add the run's metric and sanity results to each xai-eval benchmark, and the images once."""
    from xai_eval.measure.metrics import METRICS
    from xai_eval.records.results import case_records, method_metrics

    by_pair = method_metrics(case_records(session.results, session.sanity).values())
    images: dict[str, str] = {}
    entries = {entry.id: entry for entry in session.images}
    for bench in output_json.get("benchmarks", []):
        info = bench.get("extra_info", {}).get(EXTRA_INFO_KEY)
        if info is None:
            continue
        info.update(by_pair.get((info["model"], info["method"]), {"max_sensitivity": {}, "sanity": {}, "metrics": {}}))
        name = f"{info['model']}/{info['image']}"
        if name not in images and info["image"] in entries:
            height, width = info["attribution"]["shape"]
            images[name] = encode_png(entries[info["image"]].as_seen(height, width))
    ran = sorted({r.metric for r in session.results}, key=lambda name: list(METRICS).index(name) if name in METRICS else len(METRICS))
    output_json[EXTRA_INFO_KEY] = {
        "profile": session.settings.profile, "seed": session.settings.seed, "run": session.run_info(),
        "versions": versions(), "images_png_base64": images,
        "metrics": {name: {"label": METRICS[name].title, "lower_is_better": METRICS[name].lower_is_better,
                           "rtol": METRICS[name].rtol, "atol": METRICS[name].atol} for name in ran if name in METRICS},
    }
    if any(EXTRA_INFO_KEY in bench.get("extra_info", {}) for bench in output_json.get("benchmarks", [])):
        output_json[EXTRA_INFO_KEY]["work"] = session.work_info()  # the session prepared: its cases ran
