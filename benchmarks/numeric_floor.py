"""Measure the numeric floor: how far each recorded number moves under changes nobody means.

Records the default gate's numbers (quick profile, efficientnet_lite0, seed 0: max sensitivity, every other
metric of the profile, snapshot maps and channel norms, fingerprints) into a scratch folder, then reruns the
sensitivity, metrics and snapshot suites under each benign change and reads back how far every number
moved:

* one torch thread instead of two (``--xai-threads 1``),
* an NCHW model instead of channels_last (``XAI_MUTATION=nchw`` of ``tests/mutants.py``),
* every batch argument changed (``XAI_MUTATION=batch_sizes``),
* two xdist workers (``-n 2``),
* the CUDA device, where there is one (``--xai-device cuda``).

It prints the largest drift per number and change, 3x that, and the floor in ``xai_eval/records/floors.py``
(each floor must be at least 3x the largest drift; a metric's floor is its MetricSpec's ``rtol`` and
``atol``, compared on the relative and on the absolute drift). Run by hand on a quiet machine (about 25
minutes on 2 CPU cores): ``python benchmarks/numeric_floor.py``. ``--reference-threads 2`` records the
reference with 2 threads where the process has fewer cores (pinned with ``taskset``), so that "1 thread"
still changes something; ``--suites metrics`` measures the metrics alone (sensitivity and metrics suites).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODEL = "tests.mutants:lite0"  # unmutated, it is efficientnet_lite0; mutated, a benign change
SUITES = {"all": ("suites/test_sensitivity.py", "suites/test_metrics.py", "suites/test_snapshot.py"),
          "metrics": ("suites/test_sensitivity.py", "suites/test_metrics.py")}
VARIANTS: dict[str, tuple[list[str], str]] = {
    "1 thread": (["--xai-threads", "1"], ""),
    "NCHW model": ([], "nchw"),
    "batch sizes": ([], "batch_sizes"),
    "-n 2": (["-p", "xdist", "-n", "2"], ""),
    "CUDA": (["--xai-device", "cuda"], ""),
}


def gate(folder: Path, suites: tuple[str, ...], *args: str, mutation: str = "") -> None:
    command = [sys.executable, "-m", "pytest", *suites, "-p", "tests.mutants", "--xai-model", MODEL, "-q",
               "-p", "no:cacheprovider", "--xai-baselines", str(folder / "baselines.json"),
               "--xai-snapshots", str(folder / "snapshots"), *args]
    env = dict(os.environ, XAI_MUTATION=mutation)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    print(f"  {' '.join(args) or '(reference)'} {('XAI_MUTATION=' + mutation) if mutation else ''}: {last}", flush=True)


def drifts(folder: Path, results: Path) -> dict[str, float]:
    """The largest drift of each recorded number in ``results`` against the recorded reference."""
    from xai_eval.measure.metrics import METRICS
    from xai_eval.measure.fingerprint import Fingerprint, gradient_change

    snapshots = folder / "snapshots" / "quick.json"
    recorded = json.loads(snapshots.read_text())["models"] if snapshots.is_file() else {}  # none under --suites metrics
    worst: dict[str, float] = {}  # only what the suites that ran recorded

    def keep(name: str, value: float | None) -> None:
        if value is not None:
            worst[name] = max(worst.get(name, 0.0), value if math.isfinite(value) else math.inf)

    for case in json.loads(results.read_text())["cases"]:
        sens = case.get("max_sensitivity")
        if sens and sens.get("baseline"):
            keep("max sensitivity (relative)", abs(sens["value"] - sens["baseline"]) / abs(sens["baseline"]))
        for metric, result in sorted(case.get("metrics", {}).items()):
            if result.get("baseline") is not None and result.get("value") is not None:
                spec = METRICS[metric]
                moved = abs(result["value"] - result["baseline"])
                for number, value in ((f"{metric} (relative)", moved / abs(result["baseline"]) if result["baseline"] else math.inf),
                                      (f"{metric} (absolute)", moved),
                                      (f"{metric} (share of its floor)", moved / (spec.atol + spec.rtol * abs(result["baseline"])))):
                    keep(number, value)
        snap = case.get("snapshot")
        if snap and "relative_l2" in snap:
            keep("map relative L2", snap["relative_l2"])
            keep("map channel norms", snap["channel"])
            keep("map rank distance", 1 - snap["rank_correlation"])
        printed = case.get("fingerprint")
        if printed and "target_logit" in printed:
            stored = Fingerprint.from_json(recorded[case["model"]]["fingerprints"][case["image"]])
            current = Fingerprint.from_json({k: printed[k] for k in ("target", "target_logit", "top", "top_logits", "gradient")})
            logits = dict(zip(current.top, current.top_logits)) | {current.target: current.target_logit}
            for cls, value in zip(stored.top, stored.top_logits):
                if cls in logits:
                    keep("logits (relative)", abs(logits[cls] - value) / max(abs(value), 1.0))
            if stored.gradient and current.gradient:
                keep("input gradient", gradient_change(current.gradient, stored.gradient))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="keep the scratch folder here")
    parser.add_argument("--reference-threads", default=None, help="torch threads of the reference run (default: the gate's)")
    parser.add_argument("--suites", choices=sorted(SUITES), default="all", help="all (default) or metrics")
    parser.add_argument("--reuse", action="store_true", help="keep the reference already recorded in --keep")
    args = parser.parse_args()
    import torch

    from xai_eval.measure.metrics import METRICS
    from xai_eval.records import floors

    suites = SUITES[args.suites]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="xai-floor-"))
    folder.mkdir(parents=True, exist_ok=True)
    threads = ["--xai-threads", args.reference_threads] if args.reference_threads else []
    if not (args.reuse and args.keep):
        print(f"recording the reference into {folder}", flush=True)
        gate(folder, suites, "--xai-update-baselines", *threads)
    table: dict[str, dict[str, float]] = {}
    for name, (options, mutation) in VARIANTS.items():
        if name == "CUDA" and not torch.cuda.is_available():
            print("  CUDA: no CUDA device here, not measured")
            continue
        results = folder / f"{name.replace(' ', '_')}.json"
        gate(folder, suites, *options, *(threads if name not in ("1 thread", "-n 2") else []),
             "--xai-results", str(results), mutation=mutation)
        table[name] = drifts(folder, results)
    numbers = list(dict.fromkeys(number for row in table.values() for number in row))
    limit: dict[str, float | None] = {
        "max sensitivity (relative)": floors.SENSITIVITY_RTOL, "map relative L2": floors.MAP_RELATIVE_L2,
        "map channel norms": floors.MAP_CHANNEL, "map rank distance": None, "logits (relative)": floors.LOGIT_RTOL,
        "input gradient": floors.GRADIENT_RELATIVE_L2,
    }
    for name in METRICS:  # a metric's floor is atol + rtol * |recorded|: the drift over it must stay below 1/3
        limit[f"{name} (share of its floor)"] = 1.0
    print()
    print("| number | " + " | ".join(table) + " | 3x largest | floor |")
    print("|---" * (len(table) + 3) + "|")
    for number in numbers:
        largest = max(row.get(number, 0.0) for row in table.values())
        floor = limit.get(number)
        ok = "" if floor is None else (" ok" if floor >= 3 * largest else " TOO LOW")
        print(f"| {number} | " + " | ".join(f"{row.get(number, 0.0):.2g}" for row in table.values())
              + f" | {3 * largest:.2g} | {'-' if floor is None else f'{floor:g}'}{ok} |")


if __name__ == "__main__":
    main()
