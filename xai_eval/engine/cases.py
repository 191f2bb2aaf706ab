"""One case: a (profile, model, method, image) with its cached computations."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xai_eval.errors import XaiEvalError
from xai_eval.explain.randomness import MethodDraws, derive_seed, generator
from xai_eval.measure.metrics import MAX_SENSITIVITY
from xai_eval.records.keys import CaseKey

if TYPE_CHECKING:
    import torch

    from xai_eval.explain.explainer import Explainer
    from xai_eval.config.images import ImageEntry
    from xai_eval.measure.metrics import MetricValue
    from xai_eval.config.profiles import Profile
    from xai_eval.measure.road import RoadCurves
    from xai_eval.measure.sensitivity import Sensitivity
    from xai_eval.measure.stability import RelativeStability


def method_draws(run_seed: int, key: CaseKey) -> MethodDraws:
    """The method randomness of a case: one per (seed, profile, model, method), shared by its images,
    so that a batch of images gets exactly the draws each image gets alone."""
    return MethodDraws(derive_seed(run_seed, key.profile, key.model, key.method, "method"))


@dataclass
class ModelOnPhoto:
    """The model's forward and backward pass on one photo: computed once per (model, photo) and shared by
    the photo's cases, so the fingerprint costs one forward and one gradient per photo."""

    model: torch.nn.Module = field(repr=False)
    inputs: torch.Tensor = field(repr=False)
    target: int
    _logits: torch.Tensor | None = field(default=None, repr=False)
    _gradient: torch.Tensor | None = field(default=None, repr=False)
    _outputs: dict[tuple[object, ...], torch.Tensor] = field(default_factory=dict, repr=False)

    def logits(self) -> torch.Tensor:
        """The model's logits for the photo (``1 x classes``)."""
        if self._logits is None:
            import torch

            with torch.no_grad():
                self._logits = self.model(self.inputs).detach()
        return self._logits

    def outputs_on(self, key: tuple[object, ...], perturbed: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The model's logits on a set of perturbed copies of the photo (``n x classes``), computed once per
        ``key`` (the draws' identity) and shared by the photo's cases: they do not depend on the method.
        ``perturbed`` makes the copies (``n x C x H x W``); each is passed alone, so no batch size moves a value."""
        if key not in self._outputs:
            import torch

            batch = perturbed()
            with torch.no_grad():
                self._outputs[key] = torch.cat([self.model(batch[i : i + 1]) for i in range(batch.shape[0])]).detach()
        return self._outputs[key]

    def gradient(self) -> torch.Tensor:
        """The input gradient of the target logit (``1 x C x H x W``)."""
        if self._gradient is None:
            import torch

            x = self.inputs.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                (self._gradient,) = torch.autograd.grad(self.model(x)[:, self.target].sum(), x)
        return self._gradient


@dataclass
class CaseRun:
    """Lazily computes, and caches, everything a case needs.

    Every random draw comes from the run's seed and the case identity (see
    :mod:`xai_eval.explain.randomness`), so the numbers do not depend on test order, ``-k``
    selection, the xdist worker or the batch sizes.
    """

    key: CaseKey
    image: ImageEntry = field(repr=False)
    inputs: torch.Tensor = field(repr=False)
    explainer: Explainer = field(repr=False)
    profile: Profile = field(repr=False)
    last_block: str = field(default="", repr=False)
    """The block the randomisation check randomises before the whole network."""
    run_seed: int = 0
    photo: ModelOnPhoto | None = field(default=None, repr=False)
    """The model on this case's photo, shared with the photo's other cases (made here if not given)."""
    seconds: dict[str, float] = field(default_factory=dict, repr=False)
    _attribution: torch.Tensor | None = field(default=None, repr=False)
    _sensitivity: dict[int, Sensitivity] = field(default_factory=dict, repr=False)
    _metrics: dict[tuple[str, int], MetricValue] = field(default_factory=dict, repr=False)
    _other_seeds: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.photo is None:
            self.photo = ModelOnPhoto(self.explainer.model, self.inputs, self.image.label)

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def target(self) -> int:
        return self.image.label

    def seed(self, purpose: str) -> int:
        """A seed for one purpose of this case (e.g. re-initialising a randomised model)."""
        return derive_seed(self.run_seed, self.key, purpose)

    def attribution(self) -> torch.Tensor:
        """The attribution of the unperturbed input (computed once, then shared)."""
        if self._attribution is None:
            start = time.perf_counter()
            self._attribution = self.explainer(self.inputs, target=self.target)
            self.seconds["attribution"] = time.perf_counter() - start
            if self._attribution.shape != self.inputs.shape:
                raise XaiEvalError(
                    f"{self.id}: attribution has shape {tuple(self._attribution.shape)}, "
                    f"input has {tuple(self.inputs.shape)}; check the method's MethodSpec"
                )
        return self._attribution

    def attribution_under(self, seed: int) -> torch.Tensor:
        """The clean attribution with the method draws of another seed (calibration), cached."""
        if seed == self.run_seed:
            return self.attribution()
        if seed not in self._other_seeds:
            self._other_seeds[seed] = self.explainer.with_draws(method_draws(seed, self.key))(self.inputs, target=self.target)
        return self._other_seeds[seed]

    def logits(self) -> torch.Tensor:
        """The model's logits for the case's input (``1 x classes``), shared by the photo's cases."""
        assert self.photo is not None
        return self.photo.logits()

    def input_gradient(self) -> torch.Tensor:
        """The input gradient of the target logit, shared by the photo's cases."""
        assert self.photo is not None
        return self.photo.gradient()

    def _photo_generator(self, seed: int, purpose: str, *parts: object) -> torch.Generator:
        """A generator of the photo's own stream: keyed by (seed, profile, model, image), never by the method,
        so every method on a photo is scored on the same draws."""
        key = self.key
        return generator(seed, key.profile, key.model, key.image, purpose, *parts)

    def perturbations(self, run_seed: int | None = None) -> torch.Tensor:
        """The photo's perturbations, ``[1, n_perturb_samples, C, H, W]`` on the CPU: their own stream, keyed by
        (seed, profile, model, image), so every method on a photo is scored on the same perturbed inputs."""
        from xai_eval.measure.sensitivity import uniform_perturbations

        seed = self.run_seed if run_seed is None else run_seed
        gen = self._photo_generator(seed, "perturbations")
        shape = tuple(self.inputs.shape[1:])
        return uniform_perturbations(gen, self.profile.n_perturb_samples, shape, self.profile.perturb_radius).unsqueeze(0)

    def _explainer_under(self, seed: int) -> Explainer:
        return self.explainer if seed == self.run_seed else self.explainer.with_draws(method_draws(seed, self.key))

    def sensitivity(self, run_seed: int | None = None) -> Sensitivity:
        """Captum's max sensitivity of this case and every ratio it maximised, under the run's seed (or
        another, for calibration): the perturbed explanations behind max and average sensitivity and RIS/ROS."""
        seed = self.run_seed if run_seed is None else run_seed
        if seed not in self._sensitivity:
            from xai_eval.measure.sensitivity import sensitivity

            original = self.attribution_under(seed)
            start = time.perf_counter()
            self._sensitivity[seed] = sensitivity(
                self._explainer_under(seed),
                self.inputs,
                self.perturbations(seed),
                max_examples_per_batch=self.profile.max_examples_per_batch,
                original_explanation=original,
                target=self.target,
            )
            if seed == self.run_seed:
                self.seconds["max_sensitivity"] = time.perf_counter() - start
        return self._sensitivity[seed]

    def max_sensitivity(self, run_seed: int | None = None) -> float:
        """Captum's max sensitivity of this case under the run's seed (or another, for calibration)."""
        return float(self.sensitivity(run_seed).max[0])

    def perturbed_logits(self, seed: int) -> torch.Tensor:
        """The model's logits on the photo's perturbed inputs (``n_perturb_samples x classes``), shared by its cases."""
        assert self.photo is not None
        perturbations = self.perturbations(seed)[0]
        return self.photo.outputs_on(
            ("perturbations", seed), lambda: self.inputs + perturbations.to(device=self.inputs.device, dtype=self.inputs.dtype)
        )

    def relative_stability(self, seed: int, reference: str) -> RelativeStability:
        """Relative input (``reference="input"``) or output (``"output"``) stability, from the perturbed
        explanations of :meth:`sensitivity` and the logits of the perturbed inputs."""
        from xai_eval.measure.stability import relative_change, relative_stability

        ratios = self.sensitivity(seed).ratios[0]
        logits = self.perturbed_logits(seed)
        same = logits.argmax(dim=1) == self.logits().argmax(dim=1)
        if reference == "input":
            perturbed = self.inputs + self.perturbations(seed)[0].to(device=self.inputs.device, dtype=self.inputs.dtype)
            change = relative_change(self.inputs[0], perturbed)
        else:
            change = relative_change(self.logits()[0], logits)
        return relative_stability(ratios.cpu(), change.cpu(), same.cpu())

    def infidelity(self, seed: int, *, n_samples: int, square_side: float) -> float:
        """Captum's normalised infidelity of the case's attribution over the photo's random square removals
        (each square's side ``square_side`` of the image's shorter side), with ``I`` by the method's convention
        (:attr:`xai_eval.explain.explainer.Explainer.multiplies_by_inputs`)."""
        from xai_eval.measure.infidelity import infidelity, square_removals

        shape = tuple(self.inputs.shape[1:])
        square = max(1, round(square_side * min(shape[1:])))
        masks = square_removals(self._photo_generator(seed, "infidelity", n_samples, square), n_samples, shape, square)
        assert self.photo is not None
        outputs = self.photo.outputs_on(
            ("infidelity", seed, n_samples, square), lambda: self.inputs * (1 - masks.to(device=self.inputs.device, dtype=self.inputs.dtype))
        )
        value = infidelity(
            self.explainer.model, self.inputs, self.attribution_under(seed), masks.unsqueeze(0), target=self.target,
            max_examples_per_batch=self.profile.max_examples_per_batch, outputs=self.logits(), perturbed_outputs=outputs.unsqueeze(0),
            multiply_by_inputs=self.explainer.multiplies_by_inputs,
        )
        return float(value[0])

    def road(self, seed: int, *, fractions: tuple[float, ...], noise: float) -> RoadCurves:
        """ROAD's MoRF and LeRF curves of the case's attribution, with the photo's imputation noise and tie order."""
        import torch

        from xai_eval.measure.road import road

        shape = tuple(self.inputs.shape[1:])
        field_noise = torch.randn(shape, generator=self._photo_generator(seed, "road noise"), dtype=torch.float64) * noise
        ties = torch.randn(shape[1:], generator=self._photo_generator(seed, "road ties"), dtype=torch.float64)
        model = self.explainer.model

        def probabilities(batch: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                logits = torch.cat([model(batch[i : i + 1]) for i in range(batch.shape[0])])
            return torch.softmax(logits, dim=1)[:, self.target]

        return road(probabilities, self.inputs[0], self.attribution_under(seed)[0], fractions, field_noise, ties)

    def metric(self, name: str, run_seed: int | None = None) -> MetricValue:
        """The registered metric ``name`` of this case under the profile's settings, under the run's seed (or
        another, for calibration); computed once per seed."""
        from xai_eval.measure.metrics import get_metric

        seed = self.run_seed if run_seed is None else run_seed
        if (name, seed) not in self._metrics:
            spec = get_metric(name)
            shared = self._shared_seconds()
            start = time.perf_counter()
            self._metrics[name, seed] = spec.evaluate(self, seed, self.profile.metric_kwargs(spec))
            if seed == self.run_seed:  # its own cost: the case's shared work is counted once, under its own name
                self.seconds[f"metric {name}"] = time.perf_counter() - start - (self._shared_seconds() - shared)
        return self._metrics[name, seed]

    def _shared_seconds(self) -> float:
        return self.seconds.get("attribution", 0.0) + self.seconds.get("max_sensitivity", 0.0)

    def seconds_of(self, metric: str) -> float:
        """What the case spent on ``metric`` under the run's seed: for max sensitivity, the clean and the
        perturbed explanations (which average sensitivity and RIS/ROS reuse); for any other metric, what it
        added (a photo's shared model outputs are counted in the case that first needed them)."""
        own = self.seconds.get(f"metric {metric}", 0.0)
        return own + self._shared_seconds() if metric == MAX_SENSITIVITY else own

    def reference_energy(self) -> float:
        """The norm of gradient x input for the case's target: the scale well-formedness compares to."""
        from xai_eval.measure.sanity import gradient_times_input_norm

        return gradient_times_input_norm(self.explainer.model, self.inputs, self.target)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())
