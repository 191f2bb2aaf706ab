"""Is GradientSHAP's completeness failure at some seeds a false alarm or a bias?

For each fixture photo, draws many independent GradientSHAP samples with the gate's own draws (xai-eval's
paired GradientSHAP, quick settings) and, for comparison, Captum's own ``GradientShap`` deltas, and prints
the mean convergence delta with its standard error, the spread and tails of the per-sample deltas, and
what the gate's replicate test (8 replicates x 16 samples, |mean| <= 4 SE) concludes on disjoint blocks of
the same samples. Run by hand: ``python benchmarks/gradientshap_completeness.py --samples 1024``.
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

from common import REPO, gate_case  # noqa: E402  (benchmarks/ is the script's folder)


def per_sample_deltas(case, n: int, stdevs: float, name: str) -> torch.Tensor:
    """``n`` per-sample convergence deltas of xai-eval's paired GradientSHAP, independent alphas (no strata)."""
    explainer = case.explainer
    deltas = []
    chunk = 64
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        _, d = explainer.with_delta(case.inputs, case.target, n_samples=k, stdevs=stdevs, draw_name=f"{name}/{start}")
        deltas.append(d.double().flatten())
    return torch.cat(deltas)


def captum_deltas(case, n: int, stdevs: float, seed: int) -> torch.Tensor:
    from captum.attr import GradientShap

    torch.manual_seed(seed)
    explainer = case.explainer
    baselines = explainer.baselines(case.inputs)
    gs = GradientShap(explainer.model)
    out = []
    for start in range(0, n, 32):
        k = min(32, n - start)
        _, d = gs.attribute(case.inputs, baselines=baselines, target=case.target, n_samples=k, stdevs=stdevs,
                            return_convergence_delta=True)
        out.append(d.double().flatten())
    return torch.cat(out)


def describe(label: str, deltas: torch.Tensor, difference: float) -> None:
    values = deltas.tolist()
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    se = sd / math.sqrt(len(values))
    centred = deltas - mean
    kurtosis = float((centred**4).mean() / (centred**2).mean() ** 2)
    q = torch.quantile(deltas, torch.tensor([0.001, 0.5, 0.999], dtype=torch.float64)).tolist()
    print(f"  {label:<34} n={len(values):5d} mean {mean:+8.3f}  SE {se:6.3f}  z {mean / se:+6.2f}  sd {sd:7.3f}  "
          f"kurtosis {kurtosis:6.1f}  q0.1% {q[0]:+8.2f} median {q[1]:+7.2f} q99.9% {q[2]:+8.2f}  "
          f"|f(x)-Ef(b)| {abs(difference):.2f}")


def replicate_test(deltas: torch.Tensor, replicates: int = 8, per: int = 16, z: float = 4.0) -> tuple[int, int]:
    """How many disjoint blocks of replicates x per samples the gate's old test would fail."""
    block = replicates * per
    fails = total = 0
    for start in range(0, len(deltas) - block + 1, block):
        means = deltas[start:start + block].reshape(replicates, per).mean(dim=1)
        se = float(means.std() / math.sqrt(replicates))
        total += 1
        fails += abs(float(means.mean())) > z * se
    return fails, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--images", nargs="*", default=["coffee", "cat", "hopper"])
    args = parser.parse_args()
    torch.set_num_threads(2)
    for image in args.images:
        case = gate_case("GradientSHAP", image)
        stdevs = case.explainer.kwargs["stdevs"]
        with torch.no_grad():
            model = case.explainer.model
            fx = float(model(case.inputs)[0, case.target])
            fb = float(model(case.explainer.baselines(case.inputs))[:, case.target].mean())
        print(f"{image}: f(x) {fx:.3f}, E f(b) {fb:.3f}, input noise sd {stdevs}")
        for noise in (stdevs, 0.0):
            deltas = per_sample_deltas(case, args.samples, noise, f"investigation/{noise}")
            describe(f"xai-eval paired, noise {noise}", deltas, fx - fb)
            fails, total = replicate_test(deltas)
            print(f"  {'':34} old 8x16 replicate test fails {fails} of {total} disjoint blocks")
        describe("captum GradientShap, noise %g" % stdevs, captum_deltas(case, args.samples // 2, stdevs, 0), fx - fb)


if __name__ == "__main__":
    main()
