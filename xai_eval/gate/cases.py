"""One gate case: a (profile, model, method, image) with its cached computations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xai_eval.errors import XaiEvalError
from xai_eval.explain.randomness import MethodDraws, derive_seed, generator
from xai_eval.records.keys import CaseKey

if TYPE_CHECKING:
    import torch

    from xai_eval.explain.explainer import Explainer
    from xai_eval.gate.images import ImageEntry
    from xai_eval.gate.profiles import Profile


def case_key_of(item: object) -> CaseKey | None:
    """The case a pytest item was parametrized with (``xai_case``), or None for any other test."""
    key = getattr(getattr(item, "callspec", None), "params", {}).get("xai_case")
    return key if isinstance(key, CaseKey) else None


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

    def logits(self) -> torch.Tensor:
        """The model's logits for the photo (``1 x classes``)."""
        if self._logits is None:
            import torch

            with torch.no_grad():
                self._logits = self.model(self.inputs).detach()
        return self._logits

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
    _sensitivity: dict[int, float] = field(default_factory=dict, repr=False)
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

    def perturbations(self, run_seed: int | None = None) -> torch.Tensor:
        """The photo's perturbations, ``[1, n_perturb_samples, C, H, W]`` on the CPU: their own stream, keyed by
        (seed, profile, model, image), so every method on a photo is scored on the same perturbed inputs."""
        from xai_eval.measure.sensitivity import uniform_perturbations

        seed = self.run_seed if run_seed is None else run_seed
        key = self.key
        gen = generator(seed, key.profile, key.model, key.image, "perturbations")
        shape = tuple(self.inputs.shape[1:])
        return uniform_perturbations(gen, self.profile.n_perturb_samples, shape, self.profile.perturb_radius).unsqueeze(0)

    def max_sensitivity(self, run_seed: int | None = None) -> float:
        """Captum's max sensitivity of this case under the run's seed (or another, for calibration)."""
        seed = self.run_seed if run_seed is None else run_seed
        if seed not in self._sensitivity:
            from xai_eval.measure.sensitivity import max_sensitivity

            original = self.attribution_under(seed)
            explainer = self.explainer if seed == self.run_seed else self.explainer.with_draws(method_draws(seed, self.key))
            start = time.perf_counter()
            values = max_sensitivity(
                explainer,
                self.inputs,
                self.perturbations(seed),
                max_examples_per_batch=self.profile.max_examples_per_batch,
                original_explanation=original,
                target=self.target,
            )
            if seed == self.run_seed:
                self.seconds["max_sensitivity"] = time.perf_counter() - start
            self._sensitivity[seed] = float(values[0])
        return self._sensitivity[seed]

    def reference_energy(self) -> float:
        """The norm of gradient x input for the case's target: the scale well-formedness compares to."""
        from xai_eval.measure.sanity import gradient_times_input_norm

        return gradient_times_input_norm(self.explainer.model, self.inputs, self.target)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())
