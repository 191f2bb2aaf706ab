"""The registry of attribution methods: small declarative entries over Captum.

Each entry names a Captum class, its constructor arguments and its
``attribute()`` arguments per profile. Add your own from a ``conftest.py``::

    from xai_eval.explain.methods import MethodSpec, register_method

    register_method(MethodSpec(
        name="Saliency",
        captum_class="captum.attr.Saliency",
        attribute_kwargs={"quick": {"abs": True}, "paper": {"abs": True}},
    ))
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from xai_eval.errors import XaiEvalError

Adaptation = Literal["none", "guided", "lrp"]
BaselineKind = Literal["none", "zeros", "zeros_and_noise"]


@dataclass(frozen=True)
class MethodSpec:
    """One attribution method.

    ``captum_class`` is a dotted path (imported lazily) or the class itself. If
    ``wraps`` is set, ``captum_class`` is a wrapper such as ``NoiseTunnel`` built
    around an instance of ``wraps``. ``uses_layer`` passes the model's Grad-CAM
    layer as the second constructor argument. ``adaptation`` names the model
    rewrite the method needs (see :mod:`xai_eval.explain.adapt`). ``baselines`` is built
    per call from the inputs and passed as ``baselines=``. A class whose constructor takes ``draws``
    (like :class:`~xai_eval.explain.paired.PairedGradientShap` and its subclasses) is given the case's
    :class:`~xai_eval.explain.randomness.MethodDraws`, so its randomness is paired too.
    """

    name: str
    captum_class: str | type
    attribute_kwargs: Mapping[str, Mapping[str, Any]]
    init_kwargs: Mapping[str, Any] = field(default_factory=dict)
    wraps: str | type | None = None
    uses_layer: bool = False
    adaptation: Adaptation = "none"
    baselines: BaselineKind = "none"
    stochastic: bool = False
    """Documentation only: the Captum class draws from torch's or numpy's global RNGs. Every method is
    explained one example at a time with the global RNGs seeded from the case's draws, so such a method's
    explanations of a case share their draws anyway (they may differ between devices). Captum's
    NoiseTunnel and GradientShap need not be marked: xai-eval runs them with paired draws."""
    multiplies_by_inputs: bool | None = None
    """Whether the map is multiplied by the input (relative to a baseline), as IG's, GradientSHAP's, LRP's and
    Occlusion's are and Guided Backprop's and Guided Grad-CAM's are not: it decides infidelity's perturbation
    (Captum's ``infidelity_perturb_func_decorator(multiply_by_inputs=...)``). None: the Captum class's own
    ``multiplies_by_inputs``."""
    description: str = ""

    def kwargs_for(self, profile: str) -> dict[str, Any]:
        """The ``attribute()`` keyword arguments for ``profile``."""
        try:
            return dict(self.attribute_kwargs[profile])
        except KeyError:
            raise XaiEvalError(
                f"method {self.name!r} has no settings for profile {profile!r}; "
                f"add attribute_kwargs[{profile!r}] to its MethodSpec"
            ) from None

    def resolve_class(self) -> type:
        return _import_dotted(self.captum_class)

    def resolve_wrapped(self) -> type | None:
        return None if self.wraps is None else _import_dotted(self.wraps)


def _import_dotted(target: str | type) -> type:
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


_REGISTRY: dict[str, MethodSpec] = {}
METHODS: Mapping[str, MethodSpec] = MappingProxyType(_REGISTRY)


def register_method(spec: MethodSpec, *, replace: bool = False) -> MethodSpec:
    """Add ``spec`` to the registry (``replace=True`` to override an entry)."""
    if spec.name in _REGISTRY and not replace:
        raise XaiEvalError(f"method {spec.name!r} is already registered; pass replace=True to override it")
    _REGISTRY[spec.name] = spec
    return spec


def get_method(name: str, where: str = "--xai-method") -> MethodSpec:
    """The registered method called ``name``, or a one-line error naming the choices."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise XaiEvalError(
            f"{where}: unknown method {name!r}; choose from {', '.join(_REGISTRY)} "
            "or register it with xai_eval.explain.methods.register_method in a conftest.py"
        ) from None


_IG = "captum.attr.IntegratedGradients"
# Batch sizes of the quick profile are the fastest measured on 2 CPU cores with Lite0 (docs/benchmarks.md, cost table):
# smaller batches beat one large one there (IG 32 steps: 1.7 s in batches of 8, 2.8 s in one batch of 32).
# They change no value beyond float rounding (every method is batch-invariant: tests/test_paired.py).
_NT = "captum.attr.NoiseTunnel"


def _noise_tunnel(nt_type: str) -> dict[str, dict[str, Any]]:
    return {
        "quick": {"nt_type": nt_type, "nt_samples": 3, "nt_samples_batch_size": 1, "stdevs": 0.2,
                  "n_steps": 4, "internal_batch_size": 4},
        "paper": {"nt_type": nt_type, "nt_samples": 10, "nt_samples_batch_size": 2, "stdevs": 0.2,
                  "n_steps": 50, "internal_batch_size": 50},
    }


for _spec in (
    MethodSpec(
        name="IG",
        captum_class=_IG,
        baselines="zeros",
        attribute_kwargs={
            "quick": {"n_steps": 32, "internal_batch_size": 8},
            "paper": {"n_steps": 50, "internal_batch_size": 50},
        },
        description="Integrated Gradients from an all-zero (mean-colour) baseline",
    ),
    MethodSpec(
        name="IG-SG",
        captum_class=_NT,
        wraps=_IG,
        baselines="zeros",
        attribute_kwargs=_noise_tunnel("smoothgrad_sq"),
        description="IG averaged over Gaussian-noised copies, squared (SmoothGrad²)",
    ),
    MethodSpec(
        name="IG-VG",
        captum_class=_NT,
        wraps=_IG,
        baselines="zeros",
        attribute_kwargs=_noise_tunnel("vargrad"),
        description="variance of IG over Gaussian-noised copies (VarGrad)",
    ),
    MethodSpec(
        name="GradientSHAP",
        captum_class="captum.attr.GradientShap",
        baselines="zeros_and_noise",
        attribute_kwargs={
            "quick": {"n_samples": 8, "stdevs": 0.1, "n_samples_batch_size": 4},
            "paper": {"n_samples": 50, "stdevs": 0.0001},
        },
        description="expected gradients over a zero and a Gaussian-noise baseline",
    ),
    MethodSpec(
        name="Occlusion",
        captum_class="captum.attr.Occlusion",
        attribute_kwargs={
            "quick": {"sliding_window_shapes": (3, 48, 48), "strides": (3, 32, 32), "baselines": 0.0,
                      "perturbations_per_eval": 4},
            "paper": {"sliding_window_shapes": (3, 15, 15), "strides": (3, 8, 8), "baselines": 0.0,
                      "perturbations_per_eval": 64},
        },
        description="output drop when a sliding patch is set to zero",
    ),
    MethodSpec(
        name="LRP",
        captum_class="captum.attr.LRP",
        adaptation="lrp",
        attribute_kwargs={"quick": {}, "paper": {}},
        description="Layer-wise Relevance Propagation, epsilon rule, on the adapted model",
    ),
    MethodSpec(
        name="GuidedBackprop",
        captum_class="captum.attr.GuidedBackprop",
        adaptation="guided",
        attribute_kwargs={"quick": {}, "paper": {}},
        description="gradients with negative signals removed at every activation",
    ),
    MethodSpec(
        name="GuidedGradCAM",
        captum_class="captum.attr.GuidedGradCam",
        uses_layer=True,
        adaptation="guided",
        attribute_kwargs={"quick": {}, "paper": {}},
        description="Guided Backprop times upsampled Grad-CAM of the last convolutional block",
    ),
):
    register_method(_spec)
