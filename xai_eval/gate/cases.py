"""One gate case: a (profile, model, method, image) with its cached computations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xai_eval.records.keys import CaseKey
from xai_eval.errors import XaiEvalError
from xai_eval.explain.randomness import derive_seed, seeded

if TYPE_CHECKING:
    import torch

    from xai_eval.explain.explainer import Explainer
    from xai_eval.gate.images import ImageEntry
    from xai_eval.gate.profiles import Profile


def case_id(key: CaseKey) -> str:
    """The readable pytest id, e.g. ``efficientnet_lite0-IG-coffee``."""
    return f"{key.model}-{key.method}-{key.image}"


@dataclass
class CaseRun:
    """Lazily computes, and caches, everything a case needs.

    Every random draw is seeded from the case identity, so the numbers do not
    depend on test order, ``-k`` selection or the xdist worker.
    """

    key: CaseKey
    image: ImageEntry = field(repr=False)
    inputs: torch.Tensor = field(repr=False)
    explainer: Explainer = field(repr=False)
    profile: Profile = field(repr=False)
    last_block: str = field(default="", repr=False)
    """The block the randomisation check randomises before the whole network."""
    seconds: dict[str, float] = field(default_factory=dict, repr=False)
    _attribution: torch.Tensor | None = field(default=None, repr=False)
    _sensitivity: float | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return case_id(self.key)

    @property
    def target(self) -> int:
        return self.image.label

    def seed(self, purpose: str) -> int:
        return derive_seed(str(self.key), purpose)

    def attribution(self) -> torch.Tensor:
        """The attribution of the unperturbed input (computed once, then shared)."""
        if self._attribution is None:
            start = time.perf_counter()
            with seeded(self.seed("attribution")):
                self._attribution = self.explainer(self.inputs, target=self.target)
            self.seconds["attribution"] = time.perf_counter() - start
            if self._attribution.shape != self.inputs.shape:
                raise XaiEvalError(
                    f"{self.id}: attribution has shape {tuple(self._attribution.shape)}, "
                    f"input has {tuple(self.inputs.shape)}; check the method's MethodSpec"
                )
        return self._attribution

    def max_sensitivity(self) -> float:
        """Captum's max sensitivity of this case (computed once)."""
        if self._sensitivity is None:
            from xai_eval.measure.sensitivity import max_sensitivity

            original = self.attribution()
            start = time.perf_counter()
            values = max_sensitivity(
                self.explainer,
                self.inputs,
                seed=self.seed("max_sensitivity"),
                n_perturb_samples=self.profile.n_perturb_samples,
                perturb_radius=self.profile.perturb_radius,
                max_examples_per_batch=self.profile.max_examples_per_batch,
                original_explanation=original,
                target=self.target,
            )
            self.seconds["max_sensitivity"] = time.perf_counter() - start
            self._sensitivity = float(values[0])
        return self._sensitivity

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())
