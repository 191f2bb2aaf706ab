"""How many examples one internal pass of a method holds, by device.

On the CPU a method runs with its profile's batch sizes, the fastest measured on 2 cores (small batches
beat large ones there; xai_eval/explain/methods.py). On a GPU every batch-size argument a method has grows
to the device's *room*: the memory free to this process when it first explains on that device, over
``BYTES_PER_EXAMPLE``, at most ``MAX_EXAMPLES`` examples a pass (never below the profile's size, never
above the method's own count of steps or samples). The room is measured once per device and process, so
it does not drift as torch's allocator caches memory.

No value depends on it: every draw is made before batching and results are accumulated in a fixed order
(:mod:`xai_eval.explain.randomness`), so a batch size moves a number by float rounding only
(tests/test_batching.py, tests/test_paired.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

BYTES_PER_EXAMPLE = 256 * 2**20
"""Memory budgeted for one example of a pass (a 224 x 224 ImageNet CNN's forward and backward, with slack for
the allocator): a generous budget, not a measurement; with 16 GiB free it allows the 64-example cap."""
MAX_EXAMPLES = 64
"""The largest pass on any device. Passes of 10x the CPU's sizes made IG-SG 1.28x faster on an H200; whole
stacks (500 examples) ran out of its 139 GiB."""
COUNT_OF = {"internal_batch_size": "n_steps", "nt_samples_batch_size": "nt_samples", "n_samples_batch_size": "n_samples",
            "perturbations_per_eval": None}
"""Captum's batch-size arguments and the count each one batches (None: not known before the call)."""
CAPTUM_DEFAULT_COUNTS = {"n_steps": 50, "nt_samples": 5, "n_samples": 5}

_ROOM: dict[str, int] = {}


def room_on(device: torch.device) -> int | None:
    """Examples a pass may hold on ``device``: None on the CPU (keep the profile's sizes); on a GPU from its
    free memory, measured on first use."""
    if device.type != "cuda":
        return None
    key = str(device)
    if key not in _ROOM:
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)  # cached by torch, free to us
        _ROOM[key] = max(1, min(MAX_EXAMPLES, int(free // BYTES_PER_EXAMPLE)))
    return _ROOM[key]


def sized(kwargs: Mapping[str, Any], room: int | None) -> dict[str, Any]:
    """``kwargs`` with each batch-size argument it has grown to ``room`` examples a pass (capped by its count).

    A NoiseTunnel over a method with ``internal_batch_size`` takes all its noise samples at once: the inner
    method's ``internal_batch_size`` then bounds the pass. ``room`` None returns the arguments unchanged.
    """
    out = dict(kwargs)
    if room is None:
        return out
    for key, count_key in COUNT_OF.items():
        if key not in out or out[key] is None:  # absent, or None: Captum's "all at once" already
            continue
        count = None if count_key is None else int(out.get(count_key, CAPTUM_DEFAULT_COUNTS[count_key]))
        if key == "nt_samples_batch_size" and "internal_batch_size" in out:
            target = count
        elif key == "internal_batch_size" and "nt_samples" in out:
            target = room  # steps of several noise samples share a pass
        else:
            target = room if count is None else min(room, count)
        out[key] = max(int(out[key]), int(target))  # type: ignore[arg-type]
    return out
