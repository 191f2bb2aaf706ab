"""Regressions injected through xai-eval's public extension points, for ``tests/test_mutations.py``.

NOT a measurement and not a model anyone should use: every mutation here breaks or perturbs the
default gate on purpose. Loaded into a real ``pytest suites/`` run as a plugin (``-p tests.mutants``)
with the model ``tests.mutants:lite0``; the environment variable ``XAI_MUTATION`` picks the change:

* methods, through ``register_method(..., replace=True)``: ``noise_off``, ``ig_4_steps``,
  ``gs_no_input_noise``, ``gs_zero_baseline`` (every profile), ``occlusion_fill``, ``gbp_no_rewrite``,
  ``lrp_unadapted``, and the benign ``batch_sizes``;
* the model, through the ``module:callable`` factory wrapping efficientnet_lite0: ``train_mode``,
  ``no_normalize``, ``gradcam_early``, ``weights_drift``, and the benign ``nchw``;
* the manifest and the command line are changed by the test itself (``target_plus_1``, one thread,
  another seed).
"""

from __future__ import annotations

import os
from dataclasses import replace

MUTATION = os.environ.get("XAI_MUTATION", "")


def _replace_method(name: str, **changes: object) -> None:
    from xai_eval.explain.methods import METHODS, register_method

    spec = METHODS[name]
    kwargs = {profile: dict(values) for profile, values in spec.attribute_kwargs.items()}
    kwargs["quick"].update(changes.pop("quick_kwargs", {}))  # type: ignore[arg-type]
    register_method(replace(spec, attribute_kwargs=kwargs, **changes), replace=True)  # type: ignore[arg-type]


def _mutate_methods() -> None:
    if MUTATION == "noise_off":
        _replace_method("IG-SG", quick_kwargs={"stdevs": 0.0})
        _replace_method("IG-VG", quick_kwargs={"stdevs": 0.0})
    elif MUTATION == "ig_4_steps":
        _replace_method("IG", quick_kwargs={"n_steps": 4, "internal_batch_size": 4})
    elif MUTATION == "occlusion_fill":  # patches filled with 0.5 (normalised: half an SD above the mean), not 0
        _replace_method("Occlusion", quick_kwargs={"baselines": 0.5})
    elif MUTATION == "gbp_no_rewrite":
        _replace_method("GuidedBackprop", adaptation="none")
    elif MUTATION == "gs_zero_baseline":  # the Gaussian-noise reference dropped: a zero baseline only
        _replace_method("GradientSHAP", baselines="zeros")
    elif MUTATION == "gs_no_input_noise":
        _replace_method("GradientSHAP", quick_kwargs={"stdevs": 0.0})
    elif MUTATION == "lrp_unadapted":
        _replace_method("LRP", adaptation="none")
    elif MUTATION == "batch_sizes":  # benign: every batch argument changed, no value should move
        _replace_method("IG", quick_kwargs={"internal_batch_size": 5})
        _replace_method("IG-SG", quick_kwargs={"nt_samples_batch_size": 2, "internal_batch_size": 7})
        _replace_method("IG-VG", quick_kwargs={"nt_samples_batch_size": 3, "internal_batch_size": 12})
        _replace_method("GradientSHAP", quick_kwargs={"n_samples_batch_size": 3})
        _replace_method("Occlusion", quick_kwargs={"perturbations_per_eval": 7})


KNOWN = {"", "noise_off", "ig_4_steps", "gs_no_input_noise", "gs_zero_baseline", "occlusion_fill", "gbp_no_rewrite",
         "lrp_unadapted", "batch_sizes", "train_mode", "no_normalize", "gradcam_early", "weights_drift", "nchw"}
if MUTATION not in KNOWN:  # a typo would otherwise run the unmutated gate and make a row prove nothing
    raise SystemExit(f"XAI_MUTATION={MUTATION!r} is not a mutation of tests/mutants.py; known: {sorted(KNOWN - {''})}")
_mutate_methods()


def lite0(image_size: int = 224):  # type: ignore[no-untyped-def]
    """efficientnet_lite0, changed as ``XAI_MUTATION`` says."""
    import torch
    from torchvision import transforms

    from xai_eval.models.registry import efficientnet_lite0

    bundle = efficientnet_lite0(image_size)
    if MUTATION == "train_mode":
        bundle.model.train()
    elif MUTATION == "no_normalize":
        steps = [t for t in bundle.transform.transforms if not isinstance(t, transforms.Normalize)]
        bundle = replace(bundle, transform=transforms.Compose(steps))
    elif MUTATION == "gradcam_early":
        bundle = replace(bundle, gradcam_layer="_blocks.3")
    elif MUTATION == "weights_drift":
        generator = torch.Generator().manual_seed(2024)
        with torch.no_grad():
            for parameter in bundle.model.parameters():
                parameter.mul_(1 + 0.02 * torch.randn(parameter.shape, generator=generator))
    elif MUTATION == "nchw":
        bundle = replace(bundle, channels_last=False)
    return bundle
