"""Turn a method entry, a model and a case's draws into one explanation function."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from xai_eval.errors import XaiEvalError
from xai_eval.explain import batching
from xai_eval.explain.methods import MethodSpec
from xai_eval.explain.randomness import MethodDraws, seeded

RuleFactories = dict[str, Callable[[], Any]]


class Explainer:
    """Explains a batch for a target with one registered method on one model.

    Every random number comes from ``draws`` (see :mod:`xai_eval.explain.randomness`): Captum's
    ``NoiseTunnel`` and ``GradientShap`` are replaced by their paired versions
    (:mod:`xai_eval.explain.paired`), and any other method runs with the global RNGs seeded from
    ``draws``. A batch is explained one example at a time (the methods batch internally: IG's steps,
    Occlusion's windows, the noise samples), so an example's explanation is bit for bit the same alone
    or in any batch, and a perturbation of radius 0 scores exactly 0. The Captum object and any adapted
    model copy are built once, on first use. Calls return a contiguous tensor shaped like the inputs, or raise a one-line
    :class:`~xai_eval.errors.XaiEvalError` if the attribution is not finite.
    """

    def __init__(
        self, spec: MethodSpec, model: nn.Module, gradcam_layer: str, kwargs: Mapping[str, Any], draws: MethodDraws
    ) -> None:
        self.spec = spec
        self.model = model
        self.gradcam_layer = gradcam_layer
        self.kwargs = dict(kwargs)
        self.draws = draws
        self._attributor: Any = None
        self._rules: RuleFactories = {}
        self.explained_model: nn.Module = model

    def on(self, model: nn.Module) -> Explainer:
        """The same method, settings and draws on another model (built afresh, adaptation included)."""
        return Explainer(self.spec, model, self.gradcam_layer, self.kwargs, self.draws)

    def with_draws(self, draws: MethodDraws) -> Explainer:
        """The same method and settings on the same model with other method randomness (another seed)."""
        return Explainer(self.spec, self.model, self.gradcam_layer, self.kwargs, draws)

    def _build(self) -> Any:
        from captum.attr import GradientShap, NoiseTunnel

        from xai_eval.explain.adapt import guided_copy, lrp_copy
        from xai_eval.explain.paired import PairedGradientShap, PairedNoiseTunnel

        if self.spec.adaptation == "lrp":
            self.explained_model, self._rules = lrp_copy(self.model)
        elif self.spec.adaptation == "guided":
            self.explained_model = guided_copy(self.model)
        model = self.explained_model
        cls = self.spec.resolve_class()
        wrapped = self.spec.resolve_wrapped()
        init = dict(self.spec.init_kwargs)
        draws = {"draws": self.draws} if _takes_draws(cls) else {}
        if wrapped is not None:
            inner = wrapped(model, **init)
            return PairedNoiseTunnel(inner, self.draws) if cls is NoiseTunnel else cls(inner, **draws)
        if cls is GradientShap:
            return PairedGradientShap(model, self.draws)
        if self.spec.uses_layer:
            try:
                layer = model.get_submodule(self.gradcam_layer)
            except AttributeError:
                raise XaiEvalError(
                    f"gradcam_layer {self.gradcam_layer!r} is not a module path of the model; "
                    "set ModelBundle.gradcam_layer to e.g. 'layer4'"
                ) from None
            return cls(model, layer, **init, **draws)
        return cls(model, **init, **draws)

    @property
    def multiplies_by_inputs(self) -> bool:
        """Whether the map is multiplied by the input: the method's declaration, else the Captum object's."""
        declared = self.spec.multiplies_by_inputs
        return bool(getattr(self.attributor, "multiplies_by_inputs", True)) if declared is None else declared

    @property
    def attributor(self) -> Any:
        if self._attributor is None:
            self._attributor = self._build()
        return self._attributor

    def __call__(self, inputs: torch.Tensor | tuple[torch.Tensor, ...], target: Any = None, **overrides: Any) -> torch.Tensor:
        """The attribution of ``inputs``; ``overrides`` replace ``attribute()`` arguments for this call."""
        if isinstance(inputs, tuple):
            (inputs,) = inputs
        attribution, _ = self._attribute(inputs, target, **overrides)
        return attribution

    def with_delta(self, inputs: torch.Tensor, target: Any, **overrides: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Attribution and Captum's convergence delta (methods with a delta only).

        ``overrides`` replace ``attribute()`` arguments for this call (e.g. more samples).
        """
        attribution, delta = self._attribute(inputs, target, return_convergence_delta=True, **overrides)
        assert delta is not None
        return attribution, delta

    def baselines(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """The ``baselines=`` the method gets for ``inputs`` (its noise drawn from the case's draws)."""
        kind = self.spec.baselines
        if kind == "zeros":
            return torch.zeros_like(inputs)
        if kind == "zeros_and_noise":  # a two-sample reference distribution
            zero = torch.zeros_like(inputs[:1])
            return torch.cat([zero, self.draws.normal("baseline_noise", tuple(zero.shape), inputs)])
        return None

    def _attribute(self, inputs: torch.Tensor, target: Any, **extra: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        if inputs.shape[0] > 1:  # one example at a time: a batch gives bit for bit what each example gives alone
            parts = [self._attribute(inputs[i : i + 1], _one_target(target, i), **extra) for i in range(inputs.shape[0])]
            attribution = torch.cat([part[0] for part in parts])
            deltas = [part[1] for part in parts]
            return attribution, None if deltas[0] is None else torch.cat(deltas)  # type: ignore[arg-type]
        attributor = self.attributor
        kwargs = batching.sized(self.kwargs | extra, batching.room_on(inputs.device))
        baselines = self.baselines(inputs)
        if baselines is not None:
            kwargs["baselines"] = baselines
        with warnings.catch_warnings(), seeded(self.draws.seed):
            warnings.filterwarnings("ignore", message=".*required_grads has been set automatically.*")
            warnings.filterwarnings("ignore", message=".*Setting backward hooks on ReLU activations.*")
            for path, make_rule in self._rules.items():
                self.explained_model.get_submodule(path).rule = make_rule()
            try:
                output = attributor.attribute(inputs, target=target, **kwargs)
            except XaiEvalError:
                raise
            except Exception as exc:  # noqa: BLE001 - Captum's errors reach the user as one line
                first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                raise XaiEvalError(
                    f"method {self.spec.name}: {type(attributor).__name__}.attribute raised {type(exc).__name__}: {first}; "
                    "check the method's MethodSpec (adaptation, arguments) against this model"
                ) from exc
        attribution, delta = output if extra.get("return_convergence_delta") else (output, None)
        attribution = attribution.detach().contiguous()
        if not torch.isfinite(attribution).all():
            bad = int((~torch.isfinite(attribution)).sum())
            raise XaiEvalError(
                f"method {self.spec.name}: attribution has {bad} NaN/inf values; "
                "check the model for unstable layers or change the method's attribute_kwargs"
            )
        return attribution, None if delta is None else delta.detach()


def _takes_draws(cls: type) -> bool:
    """Whether a method class takes the case's :class:`MethodDraws` (``draws=``), as the paired classes of
    :mod:`xai_eval.explain.paired` and their subclasses do: such a class draws its randomness from the case."""
    import inspect

    try:
        return "draws" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _one_target(target: Any, index: int) -> Any:
    if isinstance(target, torch.Tensor) and target.numel() > 1:
        return target[index : index + 1]
    if isinstance(target, list):
        return [target[index]]
    return target
