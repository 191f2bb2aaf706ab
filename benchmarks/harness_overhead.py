"""Harness overhead: xai-eval's max sensitivity of one gate case against the same raw Captum calls.

    python benchmarks/harness_overhead.py --method IG --repeats 5

Both sides do the same explanation work on the same model, input, target and settings (quick profile,
efficientnet_lite0 in channels_last, the coffee photo): one clean explanation and ``n_perturb_samples``
perturbed ones, measured by ``captum.metrics.sensitivity_max``. xai-eval adds its paired draws, the
perturbations drawn from the case's stream, explaining one example at a time and the contiguity and
finiteness checks. Raw Captum is what a user would write by hand: the method's ``attribute`` and
Captum's default perturbation (uniform in the same L-infinity ball), once with the profile's
``max_examples_per_batch`` perturbed inputs per call and once with one per call, as xai-eval explains
them (so that no value depends on a batch size). Target: overhead <= 10 %.
"""

from __future__ import annotations

import torch

from common import fresh_max_sensitivity, gate_case, interleaved, parse_args, report


def main() -> None:
    args = parse_args(__doc__, repeats=5)

    from captum.metrics import sensitivity_max

    case = gate_case(args.method, threads=args.threads)
    profile, explainer = case.profile, case.explainer
    kwargs = dict(explainer.kwargs)
    raw = explainer.spec.resolve_class()(explainer.model)
    baselines = explainer.baselines(case.inputs)

    def xai_eval_case() -> float:
        return fresh_max_sensitivity(case)

    def explain(inputs: tuple[torch.Tensor, ...], target: int) -> tuple[torch.Tensor, ...]:
        extra = {} if baselines is None else {"baselines": tuple(torch.zeros_like(t) for t in inputs)}
        return raw.attribute(inputs, target=target, **kwargs, **extra)

    def raw_captum(per_call: int) -> float:
        return float(sensitivity_max(explain, case.inputs, perturb_radius=profile.perturb_radius,
                                     n_perturb_samples=profile.n_perturb_samples,
                                     max_examples_per_batch=per_call, target=case.target)[0])

    print(f"efficientnet_lite0 / {args.method} / coffee, quick profile: {profile.n_perturb_samples} perturbations, "
          f"radius {profile.perturb_radius}, max_examples_per_batch {profile.max_examples_per_batch}, "
          f"{torch.get_num_threads()} thread(s), method arguments {kwargs}")
    batched = profile.max_examples_per_batch
    print(f"values: xai-eval {xai_eval_case():.4f}, raw Captum {raw_captum(batched):.4f} (different perturbation draws)")
    times = interleaved({
        "xai-eval CaseRun.max_sensitivity": xai_eval_case,
        f"raw captum, {batched} perturbed inputs a call": lambda: raw_captum(batched),
        "raw captum, 1 perturbed input a call": lambda: raw_captum(1),
    }, args.repeats)
    report(times, f"raw captum, {batched} perturbed inputs a call")
    print("xai-eval explains one example a call, so that a value never depends on a batch size; the last row is "
          "raw Captum doing the same")


if __name__ == "__main__":
    main()
