"""Where every random number of a case comes from.

Two kinds of randomness meet in a case, and the gate keeps them apart:

* **method randomness** -- NoiseTunnel's noise, GradientSHAP's baselines, interpolation points and
  input noise -- is drawn once per case by a :class:`MethodDraws` and shared by *every* explanation the
  case makes: the clean one, each perturbed one inside max sensitivity, the one for another target, those
  of the randomised models and the determinism recomputation (common random numbers). So max
  sensitivity measures how the explanation reacts to the input, not to a fresh throw of the dice.
* **perturbations** come from a stream of their own (:func:`generator`, purpose ``"perturbations"``).

Every draw is made on the CPU from a dedicated ``torch.Generator`` seeded from the run's seed, the case
identity and the draw's name and shape, then moved to the input's device. So the numbers depend neither
on the batch sizes (``max_examples_per_batch``, ``nt_samples_batch_size``, ``internal_batch_size``), nor
on the order in which draws are requested, nor on the device.

Any other registered method runs one example at a time inside :func:`seeded` with the case's method
seed, so one that draws from torch's or numpy's *global* RNGs is paired and batch-independent too, but
its draws may differ between devices.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def derive_seed(*parts: object) -> int:
    """A stable 63-bit seed from parts (same on every machine and process)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def generator(seed: int, *parts: object) -> torch.Generator:
    """A fresh CPU generator for one purpose, seeded from ``seed`` and ``parts``."""
    import torch

    return torch.Generator(device="cpu").manual_seed(derive_seed(seed, *parts))


class MethodDraws:
    """The method randomness of one case: named draws, each made once and then reused.

    ``normal``, ``uniform`` and ``integers`` return the same tensor for the same name and shape, on the
    device and dtype of ``like`` (made on the CPU, in float64 where it matters, and moved).
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._cpu: dict[tuple[object, ...], torch.Tensor] = {}
        self._moved: dict[tuple[object, ...], torch.Tensor] = {}

    def _draw(self, kind: str, name: str, shape: tuple[int, ...], extra: object, like: torch.Tensor | None) -> torch.Tensor:
        import torch

        key = (kind, name, shape, extra)
        if key not in self._cpu:
            gen = generator(self.seed, kind, name, shape, extra)
            if kind == "normal":
                value = torch.randn(shape, generator=gen, dtype=torch.float64)
            elif kind == "uniform":
                value = torch.rand(shape, generator=gen, dtype=torch.float64)
            elif kind == "permutation":
                value = torch.randperm(shape[0], generator=gen)
            else:
                value = torch.randint(0, int(extra), shape, generator=gen)  # type: ignore[call-overload]
            self._cpu[key] = value
        value = self._cpu[key]
        if like is None:
            return value
        dtype = like.dtype if value.is_floating_point() else value.dtype
        moved_key = (*key, like.device, dtype)
        if moved_key not in self._moved:
            self._moved[moved_key] = value.to(device=like.device, dtype=dtype)
        return self._moved[moved_key]

    def normal(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Standard normal numbers of ``shape`` (scale them yourself)."""
        return self._draw("normal", name, tuple(shape), None, like)

    def uniform(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """Uniform numbers in [0, 1) of ``shape``."""
        return self._draw("uniform", name, tuple(shape), None, like)

    def stratified(self, name: str, n: int, like: torch.Tensor) -> torch.Tensor:
        """``n`` points in [0, 1), one in each of ``n`` equal strata, in random order."""
        u = self._draw("uniform", name, (n,), "stratified", None)
        order = self._draw("permutation", name, (n,), None, None)
        import torch

        points = (order.to(torch.float64) + u) / n
        return points.to(device=like.device, dtype=like.dtype)

    def integers(self, name: str, shape: tuple[int, ...], high: int, like: torch.Tensor) -> torch.Tensor:
        """Integers in ``[0, high)`` of ``shape`` (on ``like``'s device)."""
        return self._draw("integers", name, tuple(shape), high, like)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's, numpy's and Python's global RNGs seeded; restore them afterwards.

    For code that draws from the global RNGs (a user's stochastic method, parameter re-initialisation).
    numpy is included because Captum draws from it.
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
