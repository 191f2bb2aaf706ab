"""xai-eval's max sensitivity of a gate case against Quantus 0.6 ``MaxSensitivity`` doing the same work.

    python -m pip install -e ".[bench]"     # quantus 0.6 and its dependencies
    python benchmarks/quantus_comparison.py --method IG --repeats 3

Same model (efficientnet_lite0, channels_last weights), photo (coffee), target, method and settings
(quick profile: the method's Captum arguments, 10 perturbations uniform in the L-infinity ball of radius
0.02, Frobenius norms, max over samples): 11 explanations on each side. Quantus gets the method as an
``explain_func`` that makes the same Captum call (its own ``quantus.explain`` would run other settings),
and ``a_batch=None`` so it explains the clean input itself, as xai-eval does.
"""

from __future__ import annotations

import numpy as np
import torch

from common import fresh_max_sensitivity, gate_case, interleaved, parse_args, report


def main() -> None:
    args = parse_args(__doc__, repeats=3)

    import quantus

    case = gate_case(args.method, threads=args.threads)
    profile, explainer = case.profile, case.explainer
    kwargs = dict(explainer.kwargs)
    raw = explainer.spec.resolve_class()(explainer.model)
    with_baselines = explainer.baselines(case.inputs) is not None

    def explain(model: torch.nn.Module, inputs: np.ndarray, targets: np.ndarray, **_: object) -> np.ndarray:
        x = torch.as_tensor(inputs, dtype=torch.float32)
        extra = {"baselines": torch.zeros_like(x)} if with_baselines else {}
        return raw.attribute(x, target=torch.as_tensor(targets), **kwargs, **extra).detach().numpy()

    metric = quantus.MaxSensitivity(
        nr_samples=profile.n_perturb_samples, lower_bound=profile.perturb_radius,
        perturb_func=quantus.perturb_func.batch_uniform_noise, similarity_func=quantus.similarity_func.difference,
        norm_numerator=quantus.norm_func.fro_norm, norm_denominator=quantus.norm_func.fro_norm,
        abs=False, normalise=False, return_aggregate=False, disable_warnings=True, display_progressbar=False,
    )
    x_batch = case.inputs.detach().cpu().numpy()
    y_batch = np.array([case.target])

    def xai_eval_case() -> float:
        return fresh_max_sensitivity(case)

    def quantus_metric() -> float:
        return float(metric(model=explainer.model, x_batch=x_batch, y_batch=y_batch, a_batch=None, device="cpu",
                            explain_func=explain, channel_first=True, batch_size=1)[0])

    print(f"efficientnet_lite0 / {args.method} / coffee, quick profile: {profile.n_perturb_samples} perturbations, "
          f"radius {profile.perturb_radius}, {torch.get_num_threads()} thread(s), quantus {quantus.__version__}")
    print(f"values: xai-eval {xai_eval_case():.4f}, Quantus {quantus_metric():.4f} (different perturbation draws)")
    times = interleaved({"xai-eval CaseRun.max_sensitivity": xai_eval_case, "quantus MaxSensitivity": quantus_metric}, args.repeats)
    report(times, "xai-eval CaseRun.max_sensitivity")


if __name__ == "__main__":
    main()
