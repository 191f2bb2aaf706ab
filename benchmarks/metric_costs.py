"""What each metric costs a case: seconds per (method, metric) on one photo, as the gate computes them.

Builds the gate's cases for one photo (efficientnet_lite0, the quick profile unless ``--profile``), makes the
shared work first and times it apart (the clean attribution, the perturbed explanations max sensitivity
makes, which average sensitivity and RIS/ROS reuse, and the model's outputs on the photo's perturbations,
which every method on the photo shares), then times each metric's own work per method, and ROAD at the
paper's nine fractions beside the profile's. Prints a Markdown table and the values. Pin it for a
measurement on a busy machine: ``taskset -c 1 python benchmarks/metric_costs.py coffee``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAPER_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default="coffee")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from xai_eval.explain.methods import METHODS
    from xai_eval.measure.metrics import MAX_SENSITIVITY, METRICS, get_metric
    from xai_eval.engine.session import XaiSession
    from xai_eval.config.settings import Settings
    from xai_eval.records.keys import CaseKey

    settings = Settings(profile=args.profile, images=REPO / "fixtures/images", threads=args.threads,
                        baselines=REPO / "fixtures/baselines/max_sensitivity.json", snapshots=Path("/nonexistent"))
    session = XaiSession(settings)
    session.prepare()
    session.apply_threads()
    metrics = [m for m in session.profile.metrics if m in METRICS]
    print(f"profile {args.profile}, photo {args.image}, {session.threads} torch thread(s); metrics: {', '.join(metrics)}")
    rows = []
    first = True
    for method in METHODS:
        case = session.run(CaseKey(session.profile.name, "efficientnet_lite0", method, args.image))
        row: dict[str, float] = {}
        start = time.perf_counter()
        case.attribution()
        row["attribution"] = time.perf_counter() - start
        if first:  # the photo's shared model outputs, counted once
            start = time.perf_counter()
            case.perturbed_logits(case.run_seed)
            row["photo: perturbed logits"] = time.perf_counter() - start
            if "infidelity" in metrics:
                spec = get_metric("infidelity")
                settings_ = session.profile.metric_kwargs(spec)
                start = time.perf_counter()
                case.infidelity(case.run_seed, **settings_)  # the photo's outputs and this case's dot products
                row["photo: infidelity outputs"] = time.perf_counter() - start
        start = time.perf_counter()
        case.sensitivity()
        row["perturbed explanations"] = time.perf_counter() - start
        values = {}
        for metric in metrics:
            values[metric] = case.metric(metric).value
            row[metric] = case.seconds[f"metric {metric}"]
        start = time.perf_counter()
        values["road (9 fractions)"] = case.road(case.run_seed, fractions=PAPER_FRACTIONS, noise=0.044).gap
        row["road (9 fractions)"] = time.perf_counter() - start
        rows.append((method, row, values))
        print(method, {k: round(v, 3) for k, v in row.items()}, {k: round(v, 4) for k, v in values.items()}, flush=True)
        first = False
    columns = ["attribution", "perturbed explanations", *metrics, "road (9 fractions)"]
    print()
    print("| method | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for method, row, _ in rows:
        print(f"| {method} | " + " | ".join(f"{row[c]:.2f}" for c in columns) + " |")
    print("| **all** | " + " | ".join(f"{sum(r[c] for _, r, _ in rows):.1f}" for c in columns) + " |")
    shared = {k: v for _, r, _ in rows for k, v in r.items() if k.startswith("photo:")}
    print("photo-level, shared by the photo's methods: " + ", ".join(f"{k[7:]} {v:.2f} s" for k, v in shared.items()))
    print(f"({MAX_SENSITIVITY}'s own time excludes the perturbed explanations, counted in their column)")


if __name__ == "__main__":
    main()
