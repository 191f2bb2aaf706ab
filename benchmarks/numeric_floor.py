"""Measure the numeric floor: how far each recorded number moves under changes nobody means.

Records the default gate's numbers (quick profile, efficientnet_lite0, seed 0: max sensitivity, snapshot
maps and channel norms, fingerprints) into a scratch folder, then reruns the sensitivity and snapshot suites
under each benign change and reads back how far every number moved:

* one torch thread instead of two (``--xai-threads 1``),
* an NCHW model instead of channels_last (``XAI_MUTATION=nchw`` of ``tests/mutants.py``),
* every batch argument changed (``XAI_MUTATION=batch_sizes``),
* two xdist workers (``-n 2``),
* the CUDA device, where there is one (``--xai-device cuda``).

It prints the largest drift per number and change, 3x that, and the floor in ``xai_eval/records/floors.py``
(each floor must be at least 3x the largest drift). Run by hand on a quiet machine (about 20 minutes on
2 CPU cores): ``python benchmarks/numeric_floor.py``.
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
SUITES = ("suites/test_sensitivity.py", "suites/test_snapshot.py")
VARIANTS: dict[str, tuple[list[str], str]] = {
    "1 thread": (["--xai-threads", "1"], ""),
    "NCHW model": ([], "nchw"),
    "batch sizes": ([], "batch_sizes"),
    "-n 2": (["-p", "xdist", "-n", "2"], ""),
    "CUDA": (["--xai-device", "cuda"], ""),
}


def gate(folder: Path, *args: str, mutation: str = "") -> None:
    command = [sys.executable, "-m", "pytest", *SUITES, "-p", "tests.mutants", "--xai-model", MODEL, "-q",
               "-p", "no:cacheprovider", "--xai-baselines", str(folder / "baselines.json"),
               "--xai-snapshots", str(folder / "snapshots"), *args]
    env = dict(os.environ, XAI_MUTATION=mutation)
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    print(f"  {' '.join(args) or '(reference)'} {('XAI_MUTATION=' + mutation) if mutation else ''}: {last}", flush=True)


def drifts(folder: Path, results: Path) -> dict[str, float]:
    """The largest drift of each recorded number in ``results`` against the recorded reference."""
    from xai_eval.measure.fingerprint import Fingerprint, gradient_change

    recorded = json.loads((folder / "snapshots" / "quick.json").read_text())["models"]
    worst = {"max sensitivity (relative)": 0.0, "map relative L2": 0.0, "map channel norms": 0.0,
             "map rank distance": 0.0, "logits (relative)": 0.0, "input gradient": 0.0}

    def keep(name: str, value: float | None) -> None:
        if value is not None:
            worst[name] = max(worst[name], value if math.isfinite(value) else math.inf)

    for case in json.loads(results.read_text())["cases"]:
        sens = case.get("max_sensitivity")
        if sens and sens.get("baseline"):
            keep("max sensitivity (relative)", abs(sens["value"] - sens["baseline"]) / abs(sens["baseline"]))
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
    args = parser.parse_args()
    import torch

    from xai_eval.records import floors

    folder = args.keep or Path(tempfile.mkdtemp(prefix="xai-floor-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"recording the reference into {folder}", flush=True)
    gate(folder, "--xai-update-baselines")
    table: dict[str, dict[str, float]] = {}
    for name, (options, mutation) in VARIANTS.items():
        if name == "CUDA" and not torch.cuda.is_available():
            print("  CUDA: no CUDA device here, not measured")
            continue
        results = folder / f"{name.replace(' ', '_')}.json"
        gate(folder, *options, "--xai-results", str(results), mutation=mutation)
        table[name] = drifts(folder, results)
    numbers = list(next(iter(table.values())))
    limit = {"max sensitivity (relative)": floors.SENSITIVITY_RTOL, "map relative L2": floors.MAP_RELATIVE_L2,
             "map channel norms": floors.MAP_CHANNEL, "map rank distance": None, "logits (relative)": floors.LOGIT_RTOL,
             "input gradient": floors.GRADIENT_RELATIVE_L2}
    print()
    print("| number | " + " | ".join(table) + " | 3x largest | floor |")
    print("|---" * (len(table) + 3) + "|")
    for number in numbers:
        largest = max(row[number] for row in table.values())
        floor = limit[number]
        ok = "" if floor is None else (" ok" if floor >= 3 * largest else " TOO LOW")
        print(f"| {number} | " + " | ".join(f"{row[number]:.2g}" for row in table.values())
              + f" | {3 * largest:.2g} | {'-' if floor is None else f'{floor:g}'}{ok} |")


if __name__ == "__main__":
    main()
