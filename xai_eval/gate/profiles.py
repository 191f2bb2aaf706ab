"""Run profiles: how large and how thorough a gate run is.

Method-specific settings live in the method registry (:mod:`xai_eval.explain.methods`),
keyed by profile name; this module holds what is shared by every case.
"""

from __future__ import annotations

from dataclasses import dataclass

from xai_eval.errors import XaiEvalError


@dataclass(frozen=True)
class Profile:
    """Settings shared by every case of a run."""

    name: str
    image_size: int
    n_perturb_samples: int
    perturb_radius: float
    max_examples_per_batch: int
    """Perturbed copies explained per call inside ``sensitivity_max`` (bounds memory)."""


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", image_size=224, n_perturb_samples=3, perturb_radius=0.02, max_examples_per_batch=3),
    "paper": Profile("paper", image_size=224, n_perturb_samples=10, perturb_radius=0.02, max_examples_per_batch=5),
}
DEFAULT_PROFILE = "quick"


def get_profile(name: str, where: str = "--xai-profile") -> Profile:
    """The profile called ``name``, or a one-line error naming the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise XaiEvalError(f"{where}: unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
