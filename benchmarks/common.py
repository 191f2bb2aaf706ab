"""What the benchmark scripts share: the default model and photo as the gate sees them, and timing.

Not part of the gate or of ``pytest tests/``; run the scripts by hand on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def gate_case(method: str = "IG", image: str = "coffee", threads: int | None = None) -> Any:
    """The gate's own case (quick profile, efficientnet_lite0, channels_last): a ``CaseRun``."""
    from xai_eval.engine.session import XaiSession
    from xai_eval.config.settings import Settings
    from xai_eval.records.keys import CaseKey

    settings = Settings(images=REPO / "fixtures/images", baselines=REPO / "fixtures/baselines/max_sensitivity.json",
                        methods=(method,), threads=threads)
    session = XaiSession(settings)
    session.prepare()
    return session.run(CaseKey("quick", "efficientnet_lite0", method, image))


def parse_args(doc: str, repeats: int) -> argparse.Namespace:
    """The options every script takes: the method, the timed repeats, torch threads."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--method", default="IG", choices=("IG", "Occlusion"),
                        help="a method Captum runs as is (no model rewrite, no random draws)")
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=None)
    return parser.parse_args()


def fresh_max_sensitivity(case: Any) -> float:
    """The case's max sensitivity with its clean explanation recomputed too (11 explanations)."""
    case._attribution, case._sensitivity = None, {}
    return case.max_sensitivity()


def interleaved(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time each callable ``repeats`` times, alternating between them (after one untimed warm-up each),
    so that a machine that slows down or speeds up affects every contender alike."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def report(times: dict[str, list[float]], reference: str) -> None:
    """Median seconds per contender and its ratio to ``reference``, measured in this run."""
    base = statistics.median(times[reference])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} median {median:8.3f} s  (min {min(values):.3f}, n={len(values)})  "
              f"ratio to {reference}: {median / base:.3f}")
