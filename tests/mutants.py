"""Regressions injected through xai-eval's public extension points, for ``tests/test_mutations.py``.

NOT a measurement and not a model anyone should use: every mutation here breaks or perturbs the
default gate on purpose. Loaded into a real ``pytest suites/`` run as a plugin (``-p tests.mutants``),
which puts :func:`lite0` in efficientnet_lite0's place; the environment variable ``XAI_MUTATION`` picks the
change:

* :data:`METHOD_CHANGES`, through ``register_method(..., replace=True)`` (a method class that takes
  ``draws`` gets the case's paired draws, as the built-in ones do), and :data:`METRIC_CHANGES`, through
  ``register_metric(..., replace=True)``;
* :data:`MODEL_CHANGES`, through a factory wrapping efficientnet_lite0, registered in its place (so the run
  gates it under the built-in's id against the committed baselines);
* the manifest and the command line are changed by the test itself (``target_plus_1``, one thread,
  ``-n 2``, another seed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from captum.attr import IntegratedGradients

from xai_eval.explain.paired import PairedGradientShap, PairedNoiseTunnel
from xai_eval.explain.randomness import MethodDraws, derive_seed

MUTATION = os.environ.get("XAI_MUTATION", "")


class ScaledIG(IntegratedGradients):
    """IG times sqrt(1.5): under VarGrad, a map 1.5 times louder (what an unbiased variance of 3 samples does)."""

    def attribute(self, *args: Any, **kwargs: Any) -> Any:
        return super().attribute(*args, **kwargs) * math.sqrt(1.5)


class BlurredIG(IntegratedGradients):
    """IG blurred by a 13-pixel box filter, channel by channel."""

    def attribute(self, *args: Any, **kwargs: Any) -> Any:
        out = super().attribute(*args, **kwargs)
        return torch.nn.functional.avg_pool2d(out, 13, stride=1, padding=6, count_include_pad=False)


class ChannelsRotatedIG(IntegratedGradients):
    """IG with its colour channels rotated (R, G, B -> G, B, R): the channel sum cannot see it."""

    def attribute(self, *args: Any, **kwargs: Any) -> Any:
        return super().attribute(*args, **kwargs)[:, [1, 2, 0]]


class SummedGradientShap(PairedGradientShap):
    """GradientSHAP that sums its samples instead of averaging them."""

    def attribute(self, inputs: Any, baselines: Any, target: Any = None, **kwargs: Any) -> Any:
        out = super().attribute(inputs, baselines, target, **kwargs)
        n = kwargs.get("n_samples", 5)
        return (out[0] * n, out[1]) if isinstance(out, tuple) else out * n


class RestreamedNoiseTunnel(PairedNoiseTunnel):
    """NoiseTunnel drawing its noise from another random stream: a draw-only change (the expected map is the same)."""

    def __init__(self, attribution_method: Any, draws: MethodDraws) -> None:
        super().__init__(attribution_method, MethodDraws(derive_seed(draws.seed, "another stream")))


class RestreamedGradientShap(PairedGradientShap):
    """GradientSHAP drawing its baselines, points and noise from another random stream: a draw-only change."""

    def __init__(self, forward_func: Any, draws: MethodDraws) -> None:
        super().__init__(forward_func, MethodDraws(derive_seed(draws.seed, "another stream")))


def _replace_method(name: str, **changes: object) -> None:
    from xai_eval.explain.methods import METHODS, register_method

    spec = METHODS[name]
    kwargs = {profile: dict(values) for profile, values in spec.attribute_kwargs.items()}
    for profile in kwargs:
        kwargs[profile].update(changes.get(f"{profile}_kwargs", {}))  # type: ignore[arg-type]
    changes = {k: v for k, v in changes.items() if not k.endswith("_kwargs")}
    register_method(replace(spec, attribute_kwargs=kwargs, **changes), replace=True)  # type: ignore[arg-type]


METHOD_CHANGES: dict[str, Callable[[], None]] = {
    "noise_off": lambda: (_replace_method("IG-SG", quick_kwargs={"stdevs": 0.0}),
                          _replace_method("IG-VG", quick_kwargs={"stdevs": 0.0})),
    "ig_4_steps": lambda: _replace_method("IG", quick_kwargs={"n_steps": 4, "internal_batch_size": 4}),
    # patches filled with 0.5 (normalised: half an SD above the mean), not 0
    "occlusion_fill": lambda: _replace_method("Occlusion", quick_kwargs={"baselines": 0.5}),
    "gbp_no_rewrite": lambda: _replace_method("GuidedBackprop", adaptation="none"),
    # the Gaussian-noise reference dropped: a zero baseline only
    "gs_zero_baseline": lambda: _replace_method("GradientSHAP", baselines="zeros"),
    "gs_no_input_noise": lambda: _replace_method("GradientSHAP", quick_kwargs={"stdevs": 0.0}),
    "lrp_unadapted": lambda: _replace_method("LRP", adaptation="none"),
    "vg_rescaled": lambda: _replace_method("IG-VG", wraps=ScaledIG),
    "sg_blurred": lambda: _replace_method("IG-SG", wraps=BlurredIG),
    "sg_as_vargrad": lambda: _replace_method("IG-SG", quick_kwargs={"nt_type": "vargrad"}),
    "gs_summed": lambda: _replace_method("GradientSHAP", captum_class=SummedGradientShap),
    "ig_channels_rotated": lambda: _replace_method("IG", captum_class=ChannelsRotatedIG),
    # draw-only: the stochastic methods draw from another random stream; no expected value moves
    "restreamed": lambda: (_replace_method("IG-SG", captum_class=RestreamedNoiseTunnel),
                           _replace_method("IG-VG", captum_class=RestreamedNoiseTunnel),
                           _replace_method("GradientSHAP", captum_class=RestreamedGradientShap)),
    # benign: every batch argument changed, no value should move
    "batch_sizes": lambda: (
        _replace_method("IG", quick_kwargs={"internal_batch_size": 5}),
        _replace_method("IG-SG", quick_kwargs={"nt_samples_batch_size": 2, "internal_batch_size": 7}),
        _replace_method("IG-VG", quick_kwargs={"nt_samples_batch_size": 3, "internal_batch_size": 12}),
        _replace_method("GradientSHAP", quick_kwargs={"n_samples_batch_size": 3}),
        _replace_method("Occlusion", quick_kwargs={"perturbations_per_eval": 7}),
    ),
}


class _StraightThrough(torch.autograd.Function):
    """ReLU6 forward, identity backward: the logits are bit for bit the same, the gradients are not."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu6(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


class StraightThroughReLU6(torch.nn.ReLU6):
    """A ReLU6 whose backward ignores the clamp; LRP passes relevance through it (the rule a user sets)."""

    def __init__(self) -> None:
        from captum.attr._utils.lrp_rules import IdentityRule

        super().__init__()
        self.rule = IdentityRule()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StraightThrough.apply(x)


def _train_mode(bundle: Any) -> Any:
    bundle.model.train()
    return bundle


def _no_normalize(bundle: Any) -> Any:
    from torchvision import transforms

    steps = [t for t in bundle.transform.transforms if not isinstance(t, transforms.Normalize)]
    return replace(bundle, transform=transforms.Compose(steps))


def _weights_drift(bundle: Any) -> Any:
    generator = torch.Generator().manual_seed(2024)
    with torch.no_grad():
        for parameter in bundle.model.parameters():
            parameter.mul_(1 + 0.02 * torch.randn(parameter.shape, generator=generator))
    return bundle


def _backward_only(bundle: Any) -> Any:
    bundle.model._blocks[3].act1 = StraightThroughReLU6()
    return bundle


MODEL_CHANGES: dict[str, Callable[[Any], Any]] = {
    "train_mode": _train_mode,
    "no_normalize": _no_normalize,
    "gradcam_early": lambda bundle: replace(bundle, gradcam_layer="_blocks.3"),
    "weights_drift": _weights_drift,
    "backward_only": _backward_only,
    "nchw": lambda bundle: replace(bundle, channels_last=False),  # benign
}

def _infidelity_doubled() -> None:
    """Infidelity reported twice as large: a change of the metric itself (every map and every other metric the same)."""
    from xai_eval.measure.metrics import METRICS, register_metric

    spec = METRICS["infidelity"]
    register_metric(replace(spec, compute=lambda case, seed, settings: 2 * spec.compute(case, seed, settings)), replace=True)


METRIC_CHANGES: dict[str, Callable[[], None]] = {"infidelity_doubled": _infidelity_doubled}

if MUTATION and MUTATION not in METHOD_CHANGES and MUTATION not in MODEL_CHANGES and MUTATION not in METRIC_CHANGES:
    # a typo would otherwise run the unmutated gate and make a row prove nothing
    raise SystemExit(f"XAI_MUTATION={MUTATION!r} is not a mutation of tests/mutants.py; known: "
                     f"{sorted({*METHOD_CHANGES, *MODEL_CHANGES, *METRIC_CHANGES})}")
if MUTATION in METHOD_CHANGES:
    METHOD_CHANGES[MUTATION]()
if MUTATION in METRIC_CHANGES:
    METRIC_CHANGES[MUTATION]()


def lite0(image_size: int = 224):  # type: ignore[no-untyped-def]
    """efficientnet_lite0, changed as ``XAI_MUTATION`` says."""
    from xai_eval.models.registry import efficientnet_lite0

    bundle = efficientnet_lite0(image_size)
    return MODEL_CHANGES[MUTATION](bundle) if MUTATION in MODEL_CHANGES else bundle


def _as_the_builtin_model() -> None:
    """Put :func:`lite0` in the registry's place of efficientnet_lite0: the gate then gates the changed model under
    the built-in's id, with its draws and perturbations, against the committed baselines and their recorded seeds
    (unchanged, it *is* that model)."""
    from xai_eval.models import registry

    registry.BUILTIN_MODELS["efficientnet_lite0"] = lite0


_as_the_builtin_model()
