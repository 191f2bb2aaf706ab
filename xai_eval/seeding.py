"""Seeds derived from a case's identity, so results do not depend on test order."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator


def derive_seed(*parts: str) -> int:
    """A stable 63-bit seed from string parts (same on every machine and process)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's global RNGs seeded, restoring their state afterwards."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
