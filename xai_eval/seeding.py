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
    """Run the block with torch's, numpy's and Python's global RNGs seeded; restore them afterwards.

    numpy is included because Captum draws from it (GradientShap's baseline
    choice and interpolation coefficients).
    """
    import random

    import numpy as np
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
