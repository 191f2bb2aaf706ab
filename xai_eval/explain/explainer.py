"""Turn a method entry and a model into one explanation function."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from xai_eval.errors import XaiEvalError
from xai_eval.explain.methods import MethodSpec

RuleFactories = dict[str, Callable[[], Any]]


def _baselines(kind: str, inputs: torch.Tensor) -> torch.Tensor | None:
    if kind == "zeros":
        return torch.zeros_like(inputs)
    if kind == "zeros_and_noise":
        # A two-sample reference distribution; the noise comes from the seeded global RNG.
        zero = torch.zeros_like(inputs[:1])
        return torch.cat([zero, torch.randn_like(zero)])
    return None


class Explainer:
    """Explains a batch for a target with one registered method on one model.

    The Captum object and any adapted model copy are built once, on first use.
    Calls return a tensor shaped like the inputs, or raise a one-line
    :class:`~xai_eval.errors.XaiEvalError` if the attribution is not finite.
    """

    def __init__(self, spec: MethodSpec, model: nn.Module, gradcam_layer: str, profile: str) -> None:
        self.spec = spec
        self.model = model
        self.gradcam_layer = gradcam_layer
        self.profile = profile
        self.kwargs = spec.kwargs_for(profile)
        self._attributor: Any = None
        self._rules: RuleFactories = {}
        self.explained_model: nn.Module = model

    def _build(self) -> Any:
        from xai_eval.explain.adapt import guided_copy, lrp_copy

        if self.spec.adaptation == "lrp":
            self.explained_model, self._rules = lrp_copy(self.model)
        elif self.spec.adaptation == "guided":
            self.explained_model = guided_copy(self.model)
        model = self.explained_model
        cls = self.spec.resolve_class()
        wrapped = self.spec.resolve_wrapped()
        init = dict(self.spec.init_kwargs)
        if wrapped is not None:
            return cls(wrapped(model, **init))
        if self.spec.uses_layer:
            try:
                layer = model.get_submodule(self.gradcam_layer)
            except AttributeError:
                raise XaiEvalError(
                    f"gradcam_layer {self.gradcam_layer!r} is not a module path of the model; "
                    "set ModelBundle.gradcam_layer to e.g. 'layer4'"
                ) from None
            return cls(model, layer, **init)
        return cls(model, **init)

    @property
    def attributor(self) -> Any:
        if self._attributor is None:
            self._attributor = self._build()
        return self._attributor

    def __call__(self, inputs: torch.Tensor | tuple[torch.Tensor, ...], target: Any = None) -> torch.Tensor:
        if isinstance(inputs, tuple):
            (inputs,) = inputs
        attribution, _, _ = self._attribute(inputs, target)
        return attribution

    def with_delta(self, inputs: torch.Tensor, target: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Attribution, Captum's convergence delta and the baselines used (methods with a delta only)."""
        attribution, delta, baselines = self._attribute(inputs, target, return_convergence_delta=True)
        assert delta is not None
        return attribution, delta, baselines

    def _attribute(
        self, inputs: torch.Tensor, target: Any, **extra: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        attributor = self.attributor
        for path, make_rule in self._rules.items():
            self.explained_model.get_submodule(path).rule = make_rule()
        kwargs = dict(self.kwargs) | extra
        baselines = _baselines(self.spec.baselines, inputs)
        if baselines is not None:
            kwargs["baselines"] = baselines
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*required_grads has been set automatically.*")
            warnings.filterwarnings("ignore", message=".*Setting backward hooks on ReLU activations.*")
            output = attributor.attribute(inputs, target=target, **kwargs)
        attribution, delta = output if extra.get("return_convergence_delta") else (output, None)
        attribution = attribution.detach()
        if not torch.isfinite(attribution).all():
            bad = int((~torch.isfinite(attribution)).sum())
            raise XaiEvalError(
                f"method {self.spec.name}: attribution has {bad} NaN/inf values; "
                "check the model for unstable layers or change the method's attribute_kwargs"
            )
        return attribution, None if delta is None else delta.detach(), baselines
