"""How often does a sanity check fail an unmodified method? Its false-alarm rate over many seeds.

Runs the shipped sanity suite (``suites/test_sanity.py``, quick profile, efficientnet_lite0, the three
fixture photos) once per seed with ``--xai-results`` and counts, per check and method, the runs that failed
(a property that holds must hold under any seed), were inconclusive, or were the known failure (Guided
Backprop's randomisation, a strict xfail). Prints a Markdown table and every failure with its numbers.
Run by hand (about 2.5 minutes a seed on 2 CPU cores): ``python benchmarks/sanity_false_alarms.py --seeds 21``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_seed(seed: int, folder: Path) -> dict:
    results = folder / f"seed{seed}.json"
    if results.exists():  # a seed already run into --out (a run resumed)
        print(f"seed {seed}: from {results}", flush=True)
        return json.loads(results.read_text())
    command = [sys.executable, "-m", "pytest", "suites/test_sanity.py", "-q", "-p", "no:cacheprovider",
               "--xai-seed", str(seed), "--xai-results", str(results)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    print(f"seed {seed}: {last}", flush=True)
    return json.loads(results.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=21, help="seeds 0 .. N-1")
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the results files here (a seed whose file is there is read, not run again)")
    args = parser.parse_args()
    folder = args.out or Path(tempfile.mkdtemp(prefix="xai-false-alarms-"))
    folder.mkdir(parents=True, exist_ok=True)
    outcomes: dict[tuple[str, str], Counter] = {}
    failures: list[str] = []
    for seed in range(args.seeds):
        for case in run_seed(seed, folder)["cases"]:
            for check, result in case["sanity"].items():
                outcome = result["outcome"]
                outcomes.setdefault((check, case["method"]), Counter())[outcome] += 1
                if outcome in ("failed", "xpassed"):
                    numbers = {k: v for k, v in result.items() if k != "outcome"}
                    failures.append(f"seed {seed} {case['method']}/{case['image']} {check}: {numbers}")
    methods = sorted({method for _, method in outcomes})
    checks = sorted({check for check, _ in outcomes})
    print(f"\n{args.seeds} seeds x 3 photos; each cell: failed / runs (inconclusive, known failure)\n")
    print("| check | " + " | ".join(methods) + " |")
    print("|---" * (len(methods) + 1) + "|")
    for check in checks:
        cells = []
        for method in methods:
            counts = outcomes.get((check, method))
            if not counts:
                cells.append("-")
                continue
            total = sum(counts.values())
            extra = [f"{counts[k]} {name}" for k, name in (("skipped", "inconclusive"), ("xfailed", "known failure")) if counts[k]]
            cells.append(f"{counts['failed'] + counts['xpassed']} / {total}" + (f" ({', '.join(extra)})" if extra else ""))
        print(f"| {check} | " + " | ".join(cells) + " |")
    print(f"\n{len(failures)} false alarm(s)")
    for line in failures:
        print("  " + line)
    print("\nclosest margins (an unmodified method's number against its limit, over every seed and photo):")
    for line in closest_margins(folder, args.seeds):
        print("  " + line)


def closest_margins(folder: Path, seeds: int) -> list[str]:
    """Per check, the passing value nearest its limit: completeness error (below), randomisation correlations
    (below, known failures left out), target dependence (above)."""
    from xai_eval.measure import sanity

    worst: dict[str, tuple[float, float, str]] = {}

    def note(name: str, value: float | None, limit: float, where: str, below: bool) -> None:
        if value is None:
            return
        margin = (limit - value) if below else (value - limit)
        if name not in worst or margin < worst[name][0]:
            worst[name] = (margin, value, where)

    for seed in range(seeds):
        for case in json.loads((folder / f"seed{seed}.json").read_text())["cases"]:
            where = f"seed {seed} {case['method']}/{case['image']}"
            for check, result in case["sanity"].items():
                if result["outcome"] not in ("passed",):
                    continue
                if check == "completeness":
                    note("completeness error", result.get("relative_error"), result.get("limit") or 0.0, where, True)
                elif check == "randomization":
                    for stage, limit in sanity.RANDOMIZATION_MAX_SPEARMAN.items():
                        note(f"randomisation, {stage}", result.get(stage), limit, where, True)
                elif check == "target_dependence":
                    note("target dependence", result.get("relative_change"), sanity.TARGET_MIN_RELATIVE_CHANGE, where, False)
                elif check == "conservation":
                    note("LRP conservation", result.get("bias_free_relative_error"), sanity.CONSERVATION_RTOL, where, True)
    return [f"{name}: {value:.3g} (margin {margin:.3g}; {where})" for name, (margin, value, where) in sorted(worst.items())]


if __name__ == "__main__":
    main()
