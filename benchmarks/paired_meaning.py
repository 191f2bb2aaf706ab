"""How well do paired reruns tell a real change from the draws? False alarms, power, smallest detectable change.

The gate's own engine (quick profile, efficientnet_lite0, the fixture photos) computes every metric and the
snapshot map of a case on the seeds a calibrated baseline records (the run's seed 0 and the 5 calibration
seeds), under several random streams of the stochastic methods (IG-SG, IG-VG, GradientSHAP):

* **False alarms.** Any two streams of a method are a *draw-only* change (another random stream, what a
  refactor that draws its samples differently does): recorded = one stream, new = the other, on the same
  seeds. Each number the change moves beyond its floor is classified by the gate's paired test
  (:mod:`xai_eval.measure.paired`); anything but "no evidence" is a false alarm.
* **Power.** Regressions injected through the method registry (as ``tests/mutants.py`` does), computed on
  the same seeds with the recorded stream's draws, and three changes of a number itself (infidelity doubled,
  ROAD's gap with its sign flipped, max sensitivity x1.5): how often each number is called worse or changed.
* **Smallest detectable change** with K = 5: the relative shift of a number's expected value that the test
  detects when the draws change too (from the streams' paired differences), and whether it detects any
  change beyond the floor when the draws are kept.

Resumable: every computed case is kept in ``--out`` (JSON) and not computed again. Prints Markdown tables.
Run by hand on a quiet machine (``python benchmarks/paired_meaning.py --out paired.json``); the full run takes
about an hour on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = (0, 10001, 10002, 10003, 10004, 10005)
"""The seeds of the committed calibration (``--xai-calibrate 5`` at seed 0)."""
STOCHASTIC = ("IG-SG", "IG-VG", "GradientSHAP")
PHOTOS = ("coffee", "cat", "hopper")
NUMBERS = ("max_sensitivity", "avg_sensitivity", "ris", "ros", "infidelity", "road", "map")


def restreamed(base: type, stream: int) -> type:
    """``base`` (a paired method class taking ``draws``) drawing from another random stream: a draw-only change."""
    from xai_eval.explain.randomness import MethodDraws, derive_seed

    class Restreamed(base):  # type: ignore[valid-type, misc]
        def __init__(self, inner: Any, draws: MethodDraws) -> None:
            super().__init__(inner, MethodDraws(derive_seed(draws.seed, "another stream", stream)))

    Restreamed.__name__ = f"{base.__name__}Stream{stream}"
    return Restreamed


def _paired_class(method: str) -> type:
    from xai_eval.explain.paired import PairedGradientShap, PairedNoiseTunnel

    return PairedGradientShap if method == "GradientSHAP" else PairedNoiseTunnel


def _regressions() -> dict[str, tuple[str, Callable[[Any], Any], bool]]:
    """name -> (method, change of its MethodSpec, whether only the map can move: a change of scale)."""
    import torch
    from captum.attr import IntegratedGradients

    from xai_eval.explain.paired import PairedGradientShap

    class Louder(IntegratedGradients):  # under VarGrad, a map 1.5 times louder
        def attribute(self, *args: Any, **kwargs: Any) -> Any:
            return super().attribute(*args, **kwargs) * math.sqrt(1.5)

    class Blurred(IntegratedGradients):
        def attribute(self, *args: Any, **kwargs: Any) -> Any:
            out = super().attribute(*args, **kwargs)
            return torch.nn.functional.avg_pool2d(out, 13, stride=1, padding=6, count_include_pad=False)

    class Summed(PairedGradientShap):
        def attribute(self, inputs: Any, baselines: Any, target: Any = None, **kwargs: Any) -> Any:
            out = super().attribute(inputs, baselines, target, **kwargs)
            return out * kwargs.get("n_samples", 5)

    def kwargs(spec: Any, **changes: Any) -> Any:
        return replace(spec, attribute_kwargs={p: {**v, **changes} for p, v in spec.attribute_kwargs.items()})

    return {
        "VarGrad x1.5": ("IG-VG", lambda spec: replace(spec, wraps=Louder), True),
        "GradientSHAP summed, not averaged": ("GradientSHAP", lambda spec: replace(spec, captum_class=Summed), True),
        "IG at 4 steps": ("IG", lambda spec: kwargs(spec, n_steps=4, internal_batch_size=4), False),
        "IG-SG blurred (13 px)": ("IG-SG", lambda spec: replace(spec, wraps=Blurred), False),
        "GradientSHAP zero baseline only": ("GradientSHAP", lambda spec: replace(spec, baselines="zeros"), False),
    }


def compute(method: str, image: str, change: Callable[[Any], Any] | None, maps_only: bool) -> dict[str, Any]:
    """Every number (and the snapshot map) of one case on :data:`SEEDS`, with the method's spec changed by
    ``change`` (None: as registered)."""
    from xai_eval.config.settings import Settings
    from xai_eval.engine.session import XaiSession
    from xai_eval.explain.methods import METHODS, register_method
    from xai_eval.measure.similarity import snapshot_of
    from xai_eval.records.keys import CaseKey
    from xai_eval.records.maps import encode_array

    original = METHODS[method]
    try:
        if change is not None:
            register_method(change(original), replace=True)
        settings = Settings(images=REPO / "fixtures" / "images", methods=(method,))
        session = XaiSession(settings)
        session.prepare(stores=False)
        case = session.run(CaseKey("quick", "efficientnet_lite0", method, image))
        out: dict[str, Any] = {"metrics": {}, "maps": []}
        for seed in SEEDS:
            snapshot = snapshot_of(case.attribution_under(seed))
            out["maps"].append({"values": encode_array(snapshot.values), "scale": snapshot.scale,
                                "channel_norms": list(snapshot.channel_norms)})
            if not maps_only:
                for metric in session.profile.metrics:
                    out["metrics"].setdefault(metric, []).append(case.metric(metric, seed).value)
        return out
    finally:
        register_method(original, replace=True)


def _snapshots(maps: list[dict[str, Any]]) -> list[Any]:
    from xai_eval.measure.similarity import Snapshot
    from xai_eval.records.maps import decode_array

    return [Snapshot(decode_array(m["values"]), m["scale"], tuple(m["channel_norms"])) for m in maps]


def classify(number: str, recorded: dict[str, Any], current: dict[str, Any]) -> tuple[bool, str] | None:
    """Whether ``number`` moved beyond its floor at seed 0 (the run's), and, if so, the paired meaning; None when
    it cannot be compared (not computed)."""
    from xai_eval.measure.metrics import METRICS
    from xai_eval.measure.change import scalar_change
    from xai_eval.measure.paired import map_statistics, paired_map_change
    from xai_eval.measure.similarity import distance, unchanged

    if number == "map":
        before, after = _snapshots(recorded["maps"]), _snapshots(current["maps"])
        if unchanged(distance(after[0], before[0])):
            return False, "unchanged"

        def stats(maps: list[Any]) -> dict[str, list[float]]:
            return map_statistics([(m.restored().ravel(), m.channel_norms) for m in maps], [b.restored().ravel() for b in before])

        return True, paired_map_change(stats(before), stats(after))[0]
    if number not in recorded["metrics"] or number not in current["metrics"]:
        return None
    spec = METRICS[number]
    old, new = recorded["metrics"][number], current["metrics"][number]
    if not all(map(math.isfinite, old + new)):
        return None
    change = scalar_change(old[0], new[0], None, rtol=spec.rtol, atol=spec.atol, lower_is_better=spec.lower_is_better,
                           bounds=spec.bounds, paired=(old, new))  # the gate's own decision
    return change.meaning != "unchanged", change.meaning


def smallest_detectable(recorded: list[float], current: list[float]) -> float:
    """The relative shift of the expected value the paired test detects with these paired differences' spread."""
    from xai_eval.measure.paired import ALPHA, t_quantile

    diffs = [c - r for r, c in zip(recorded, current)]
    mean = abs(statistics.fmean(recorded))
    return t_quantile(1 - ALPHA / 2, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs)) / mean if mean else math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file of computed cases (resumed if it exists)")
    parser.add_argument("--streams", type=int, default=5, help="random streams per stochastic method (pairs of them are draw-only changes)")
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    parser.add_argument("--skip-regressions", action="store_true")
    args = parser.parse_args()
    store: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}

    def cached(name: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if name not in store:
            start = time.perf_counter()
            store[name] = make()
            print(f"{name}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
            tmp = args.out.with_suffix(".tmp")
            tmp.write_text(json.dumps(store))
            tmp.replace(args.out)
        return store[name]

    from xai_eval.explain.methods import METHODS

    for method in STOCHASTIC:
        for image in args.photos:
            for stream in range(args.streams):
                cls = restreamed(_paired_class(method), stream)
                change = None if stream == 0 else (lambda spec, cls=cls: replace(spec, captum_class=cls))
                cached(f"stream{stream}/{method}/{image}", lambda: compute(method, image, change, False))
    regressions = {} if args.skip_regressions else _regressions()
    for name, (method, change, maps_only) in regressions.items():
        for image in args.photos:
            cached(f"stream0/{method}/{image}", lambda: compute(method, image, None, False))
            cached(f"{name}/{method}/{image}", lambda: compute(method, image, change, maps_only))
    assert all(m in METHODS for m in STOCHASTIC)

    # false alarms: every pair of streams, every stochastic case
    counts = {n: [0, 0, 0] for n in NUMBERS}  # [called a change, moved beyond the floor, pairs]
    detectable: dict[str, list[float]] = {n: [] for n in NUMBERS if n != "map"}
    for method in STOCHASTIC:
        for image in args.photos:
            for i in range(args.streams):
                for j in range(i + 1, args.streams):
                    a, b = store[f"stream{i}/{method}/{image}"], store[f"stream{j}/{method}/{image}"]
                    for number in NUMBERS:
                        found = classify(number, a, b)
                        if found is None:
                            continue
                        counts[number][2] += 1
                        if found[0]:
                            counts[number][1] += 1
                            counts[number][0] += found[1] != "noise"
                        if number != "map":
                            detectable[number].append(smallest_detectable(a["metrics"][number], b["metrics"][number]))
    changes = args.streams * (args.streams - 1) // 2 * len(STOCHASTIC)
    print(f"\n### False alarms: {changes} draw-only changes ({args.streams} streams of each of {', '.join(STOCHASTIC)}, "
          f"every pair), on {len(args.photos)} photo(s), K = 5\n")
    print("| number | moved beyond its floor | called a change | rate |")
    print("|---|---|---|---|")
    for number, (alarms, moved, pairs) in counts.items():
        rate = f"{alarms / moved:.1%}" if moved else "-"
        print(f"| {number} | {moved} of {pairs} | {alarms} | {rate} |")
    total_alarms, total_moved = sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values())
    print(f"| all | {total_moved} | {total_alarms} | {total_alarms / max(total_moved, 1):.1%} |")

    print("\n### Power: regressions, on the recorded stream's draws (K = 5)\n")
    print("| change | number | moved beyond its floor | called worse / changed |")
    print("|---|---|---|---|")
    for name, (method, _, maps_only) in regressions.items():
        for number in (("map",) if maps_only else NUMBERS):
            moved = caught = 0
            for image in args.photos:
                found = classify(number, store[f"stream0/{method}/{image}"], store[f"{name}/{method}/{image}"])
                if found and found[0]:
                    moved += 1
                    caught += found[1] in ("worse", "beyond")
            if moved:
                print(f"| {name} ({method}) | {number} | {moved} of {len(args.photos)} | {caught} of {moved} |")
    for name, number, factor in (("infidelity doubled", "infidelity", 2.0), ("ROAD gap sign flipped", "road", -1.0),
                                 ("max sensitivity x1.5", "max_sensitivity", 1.5)):
        moved = caught = 0
        for method in STOCHASTIC:
            for image in args.photos:
                base = store[f"stream0/{method}/{image}"]
                changed = {"metrics": {number: [v * factor for v in base["metrics"][number]]}, "maps": base["maps"]}
                found = classify(number, base, changed)
                if found and found[0]:
                    moved += 1
                    caught += found[1] in ("worse", "beyond")
        print(f"| {name} (metric-level, stochastic methods) | {number} | {moved} of {len(STOCHASTIC) * len(args.photos)} "
              f"| {caught} of {moved} |")

    print("\n### Smallest relative change of the expected value detected beyond noise, K = 5\n")
    print("| number | draws changed too: median (largest) over the draw-only pairs | draws kept: largest CV of the seeds "
          "(any change beyond the floor is detected while it is below 0.61) |")
    print("|---|---|---|")
    for number, values in detectable.items():
        finite = sorted(v for v in values if math.isfinite(v))
        cvs = []
        for method in STOCHASTIC:
            for image in args.photos:
                v = store[f"stream0/{method}/{image}"]["metrics"][number]
                mean = statistics.fmean(v)
                cvs.append(statistics.stdev(v) / abs(mean) if mean else math.inf)
        print(f"| {number} | {statistics.median(finite):.1%} ({finite[-1]:.1%}) | {max(cvs):.2f} |" if finite else f"| {number} | - | - |")


if __name__ == "__main__":
    main()
