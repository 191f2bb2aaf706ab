"""Infidelity (Yeh et al. 2019), as defined by Captum's ``captum.metrics.infidelity`` with ``normalize=True``.

A thin wrapper, like :mod:`xai_eval.measure.sensitivity`: Captum computes the metric; xai-eval hands it
perturbations drawn beforehand (so they depend neither on ``max_examples_per_batch`` nor on the device) and,
optionally, the model's outputs on the perturbed inputs, computed once per photo and shared by every method
on it (the outputs do not depend on the explanation).

Infidelity is the mean squared error between the explanation's prediction of the output change,
``<A, I>``, and the model's output change ``f(x) - f(x_I)``, over random perturbations; with ``normalize=True``
the explanation is first scaled by the least-squares optimal factor (Yeh et al.'s optimal scaling), so the
explanation's units do not matter (a squared or variance map is compared like any other). Lower is more
faithful; its unit is the target logit's, squared.

The perturbations are Yeh et al.'s *square removal* for images: a random square of the image is set to
the zero baseline (the mean colour in the normalised input space, as the methods' baselines). ``I`` follows
Captum's ``infidelity_perturb_func_decorator``: for a map multiplied by the input (IG, GradientSHAP, LRP,
Occlusion: ``multiply_by_inputs=True``) it is ``(x - x_I) / (x - baseline)``, the square's mask, so ``<A, I>``
is the relevance the map puts in the square; for a map that is not (Guided Backprop, Guided Grad-CAM:
``multiply_by_inputs=False``) it is ``x - x_I``, the input inside the square, so ``<A, I>`` is the map's
first-order prediction of the change. A map scores well when that predicts how much removing the region
lowers the target logit. (Additive Gaussian noise, Yeh et al.'s other choice,
was measured too: on EfficientNet-Lite0 no method explained more than a fifth of the logit's response to
it, and most under 5 %, so it could not tell the methods apart.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def square_removals(generator: torch.Generator, n_samples: int, shape: tuple[int, ...], size: int) -> torch.Tensor:
    """``n_samples`` masks of one ``size`` x ``size`` square each, uniformly placed inside the image, drawn on the
    CPU from ``generator``: shape ``[n_samples, *shape]`` (``shape`` = ``C, H, W``; the square spans every
    channel), float32, 1 inside the square."""
    channels, height, width = shape
    if not 1 <= size <= min(height, width):
        raise ValueError(f"a square of {size} pixels does not fit a {height} x {width} image")
    rows = torch.randint(0, height - size + 1, (n_samples,), generator=generator)
    columns = torch.randint(0, width - size + 1, (n_samples,), generator=generator)
    masks = torch.zeros((n_samples, channels, height, width), dtype=torch.float32)
    for index, (row, column) in enumerate(zip(rows.tolist(), columns.tolist())):
        masks[index, :, row : row + size, column : column + size] = 1.0
    return masks


def infidelity(
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    attributions: torch.Tensor,
    perturbations: torch.Tensor,
    *,
    target: Any = None,
    max_examples_per_batch: int | None = None,
    outputs: torch.Tensor | None = None,
    perturbed_outputs: torch.Tensor | None = None,
    multiply_by_inputs: bool = True,
) -> torch.Tensor:
    """Per-example normalised infidelity of ``attributions`` at ``inputs`` (shape ``[N]``).

    ``perturbations`` are removal masks, ``[N, n_samples, *inputs.shape[1:]]`` (1 = set to the zero baseline):
    example ``i`` is compared at ``inputs[i] * (1 - perturbations[i, j])``, and ``<A, perturbations[i, j]>`` is the
    relevance the map puts where it was removed. ``outputs`` (``forward(inputs)``, ``[N, K]``) and ``perturbed_outputs``
    (``forward`` of each perturbed input, ``[N, n_samples, K]``), if given, are served to Captum instead of
    calling ``forward`` again; anything else Captum asks for is computed. ``multiply_by_inputs`` is the map's
    convention (the method's): ``I`` is the mask when true, ``x - x_I`` when false.
    """
    from captum.metrics import infidelity as captum_infidelity

    n, n_samples = perturbations.shape[:2]
    if n != inputs.shape[0] or tuple(perturbations.shape[2:]) != tuple(inputs.shape[1:]):
        raise ValueError(f"perturbations {tuple(perturbations.shape)} do not fit inputs {tuple(inputs.shape)}")
    if attributions.shape != inputs.shape:
        raise ValueError(f"attributions {tuple(attributions.shape)} do not fit inputs {tuple(inputs.shape)}")
    moved = perturbations.to(device=inputs.device, dtype=inputs.dtype)
    done = 0
    served: dict[int, torch.Tensor] = {}  # id of a perturbed batch Captum got from us -> its outputs

    def perturb(expanded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Captum asks for the samples in order, each example repeated `current` times (repeat_interleave).
        nonlocal done
        current = expanded.shape[0] // n
        chunk = moved[:, done : done + current].reshape(expanded.shape)
        perturbed = expanded * (1 - chunk)  # the masked part set to the zero baseline
        served.clear()
        if perturbed_outputs is not None:
            served[id(perturbed)] = perturbed_outputs[:, done : done + current].reshape(n * current, -1)
        done += current
        return (chunk if multiply_by_inputs else expanded - perturbed), perturbed

    def forward_func(batch: torch.Tensor) -> torch.Tensor:
        if batch is inputs and outputs is not None:
            return outputs
        known = served.get(id(batch))
        return known if known is not None else forward(batch)

    return captum_infidelity(
        forward_func,
        perturb,
        inputs,
        attributions,
        target=target,
        n_perturb_samples=n_samples,
        max_examples_per_batch=max_examples_per_batch,
        normalize=True,
    )
