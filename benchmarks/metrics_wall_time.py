"""The default gate's wall time with every quick metric against the max-sensitivity-only gate, back to back.

Runs, in subprocesses and alternating (A B B A ... so that a machine getting busier or quieter affects both
alike), ``pytest suites/`` (A: every metric of the quick profile) and ``pytest suites/
--ignore=suites/test_metrics.py`` (B: the gate as it was with max sensitivity alone: sensitivity, snapshots,
sanity, runtime), and prints each wall time, the medians and their ratio. Run it on a quiet machine:
``python benchmarks/metrics_wall_time.py --rounds 2`` (about 20 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GATES = {"every metric": ["suites/"], "max sensitivity only": ["suites/", "--ignore=suites/test_metrics.py"]}


def run(args: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"], cwd=REPO,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    return seconds, lines[-1] if lines else done.stderr.strip()[-200:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="runs of each gate (default 2)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in GATES}
    order = list(GATES)
    for round_ in range(args.rounds):
        for name in order if round_ % 2 == 0 else order[::-1]:
            seconds, last = run(GATES[name])
            times[name].append(seconds)
            print(f"{name}: {seconds:.1f} s ({last})", flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"median {name}: {median:.1f} s over {len(times[name])} run(s)")
    ratio = medians["every metric"] / medians["max sensitivity only"]
    print(f"every metric / max sensitivity only: {ratio:.3f} ({(ratio - 1):+.1%}; the budget is +25 %)")


if __name__ == "__main__":
    main()
