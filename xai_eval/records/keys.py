"""Case identity: where a case's numbers live, and its pytest id."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseKey:
    """Where a case's entry lives: profile / model / method / image."""

    profile: str
    model: str
    method: str
    image: str

    def __str__(self) -> str:
        return f"{self.profile}/{self.model}/{self.method}/{self.image}"

    def to_list(self) -> list[str]:
        """``[profile, model, method, image]``, for JSON and test-report properties (``CaseKey(*list)`` inverts it)."""
        return [self.profile, self.model, self.method, self.image]

    @property
    def id(self) -> str:
        """The readable pytest id, e.g. ``efficientnet_lite0-IG-coffee``."""
        return f"{self.model}-{self.method}-{self.image}"


def case_id(key: CaseKey) -> str:
    """The readable pytest id, e.g. ``efficientnet_lite0-IG-coffee``."""
    return key.id
