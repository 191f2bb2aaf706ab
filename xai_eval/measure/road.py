"""ROAD: RemOve And Debias (Rong, Leemann et al. 2022, "A Consistent and Efficient Evaluation Strategy for
Attribution Methods"). Pure functions.

Pixels are ranked by the explanation (channel-summed, as the ROAD reference code does) and removed in that
order: **MoRF** removes the most relevant fraction ``p`` first, **LeRF** the least relevant. Removed pixels are
filled by *noisy linear imputation*: each is the weighted mean of its 8 neighbours (direct ones 1/6,
diagonal ones 1/12), solved jointly for all removed pixels as one sparse linear system, plus Gaussian noise.
Unlike filling with a constant, this hides the shape of the mask from the model (the paper's "class
information leakage"). The model's probability for the target class is read on every imputed image; a
faithful explanation makes it fall fast under MoRF and stay up under LeRF. The score is the **gap**, the
mean over the fractions of ``LeRF(p) - MoRF(p)``: higher is more faithful; a map ranked in reverse scores
the gap's negative.

The solve runs where the case runs. On the CPU, for one fraction, the MoRF and the LeRF masks are one
block-diagonal system, and the colour channels its right-hand sides, so a fraction costs one sparse direct
solve (scipy's SuperLU; :func:`impute`). On a GPU, every mask of the case and every channel is one system of
a batch solved together by conjugate gradients in torch, on the device (:func:`impute_iterative`). Every
connected set of removed pixels touches a kept pixel (at most ``p < 1`` of the image is removed), and the
weights are symmetric, so each system is symmetric and irreducibly diagonally dominant, hence positive
definite: it has its one solution, and conjugate gradients converge to it. On the CPU the direct solve is
the faster one (about 2.7x at 224 x 224; docs/benchmarks.md); the two agree to ~1e-7 in the imputed pixels,
far inside ROAD's floor (tests/test_road.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

NEIGHBOURS: tuple[tuple[tuple[int, int], float], ...] = (
    ((0, 1), 1 / 6), ((0, -1), 1 / 6), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
    ((1, 1), 1 / 12), ((1, -1), 1 / 12), ((-1, 1), 1 / 12), ((-1, -1), 1 / 12),
)
"""ROAD's neighbour weights (offset in rows and columns, weight); they sum to 1."""
ITERATIVE_TOLERANCE = 1e-8
"""Where the iterative solve stops: each system's residual at most this times its right-hand side's norm
(imputed pixels then within ~3e-7 of the direct solve, in image units)."""
TIE_BREAK = 1e-4
"""Scale of the noise that orders equal attributions, relative to the map's min-max range (ROAD's)."""


def removal_order(attribution: torch.Tensor, ties: torch.Tensor) -> np.ndarray:
    """Pixel indices (row-major, ``H * W``) from the most to the least relevant.

    ``attribution`` is ``[C, H, W]`` (summed over channels) or ``[H, W]``; ``ties`` is ``[H, W]`` standard normal
    noise that orders equal values (``TIE_BREAK`` of the min-max range, as ROAD does), so that a map with
    large flat areas (a Grad-CAM-gated zero) is not ranked by pixel position.
    """
    relevance = attribution.detach().to(torch.float64).cpu()
    if relevance.dim() == 3:
        relevance = relevance.sum(dim=0)
    if relevance.shape != ties.shape:
        raise ValueError(f"ties {tuple(ties.shape)} do not fit the map {tuple(relevance.shape)}")
    span = relevance.max() - relevance.min()
    ranked = (relevance - relevance.min()) / (span + 1e-5) + TIE_BREAK * ties.to(torch.float64)
    return np.argsort(-ranked.reshape(-1).numpy(), kind="stable")


def removal_masks(order: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The MoRF and LeRF masks (``True`` = removed, flat) that remove ``int(fraction * pixels)`` pixels."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"a removal fraction must be strictly between 0 and 1, got {fraction}")
    pixels = order.shape[0]
    count = int(fraction * pixels)
    morf = np.zeros(pixels, dtype=bool)
    lerf = np.zeros(pixels, dtype=bool)
    morf[order[:count]] = True
    lerf[order[pixels - count :]] = True
    return morf, lerf


def _equations(removed: np.ndarray, height: int, width: int, offset: int) -> tuple[list[np.ndarray], ...]:
    """The system rows of one mask: (rows, columns, values) of the matrix, and for the right-hand side the
    (rows, kept pixel, weight) triples; unknowns numbered from ``offset``."""
    pixels = np.flatnonzero(removed)
    unknown = np.full(removed.shape[0], -1)
    unknown[pixels] = np.arange(pixels.shape[0]) + offset
    row, column = np.divmod(pixels, width)
    own = np.arange(pixels.shape[0]) + offset
    weight_sum = np.zeros(pixels.shape[0])
    a_rows, a_cols, a_vals, b_rows, b_pixels, b_weights = [], [], [], [], [], []
    for (dr, dc), weight in NEIGHBOURS:
        r, c = row + dr, column + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        neighbour = r[inside] * width + c[inside]
        who = own[inside]
        weight_sum[inside] += weight
        missing = removed[neighbour]
        a_rows.append(who[missing])
        a_cols.append(unknown[neighbour[missing]])
        a_vals.append(np.full(int(missing.sum()), -weight))
        b_rows.append(who[~missing])
        b_pixels.append(neighbour[~missing])
        b_weights.append(np.full(int((~missing).sum()), weight))
    a_rows.append(own)
    a_cols.append(own)
    a_vals.append(weight_sum)
    return a_rows, a_cols, a_vals, b_rows, b_pixels, b_weights


def impute(image: np.ndarray, masks: Sequence[np.ndarray], noise: np.ndarray) -> list[np.ndarray]:
    """Noisy linear imputation of ``image`` (``[C, H, W]``, float64) under each mask (flat, ``True`` = removed).

    All masks form one block-diagonal sparse system, solved once for the ``C`` channels; each removed pixel
    gets the solution plus ``noise`` (``[C, H, W]``) at that pixel. Returns one imputed image per mask.
    """
    from scipy.sparse import csc_matrix, csr_matrix
    from scipy.sparse.linalg import spsolve

    channels, height, width = image.shape
    flat = image.reshape(channels, -1)
    parts: list[list[np.ndarray]] = [[] for _ in range(6)]
    offsets = [0]
    for mask in masks:
        for store, values in zip(parts, _equations(mask, height, width, offsets[-1])):
            store.extend(values)
        offsets.append(offsets[-1] + int(mask.sum()))
    unknowns = offsets[-1]
    if unknowns == 0:
        return [image.copy() for _ in masks]
    a_rows, a_cols, a_vals, b_rows, b_pixels, b_weights = (np.concatenate(p) for p in parts)
    matrix = csc_matrix((a_vals, (a_rows, a_cols)), shape=(unknowns, unknowns))
    known = csr_matrix((b_weights, (b_rows, b_pixels)), shape=(unknowns, height * width))
    solution = spsolve(matrix, known @ flat.T)  # [unknowns, C]
    solution = solution.reshape(unknowns, channels)
    filled = []
    for index, mask in enumerate(masks):
        result = flat.copy()
        pixels = np.flatnonzero(mask)
        values = solution[offsets[index] : offsets[index + 1]].T
        result[:, pixels] = values + noise.reshape(channels, -1)[:, pixels]
        filled.append(result.reshape(channels, height, width))
    return filled


def _neighbour_sum(values: torch.Tensor) -> torch.Tensor:
    """Each pixel's weighted sum of its 8 neighbours (ROAD's weights; nothing outside the image)."""
    height, width = values.shape[-2:]
    padded = torch.nn.functional.pad(values, (1, 1, 1, 1))
    total = torch.zeros_like(values)
    for (dr, dc), weight in NEIGHBOURS:
        total += weight * padded[..., 1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]
    return total


def impute_iterative(
    image: torch.Tensor, masks: torch.Tensor, noise: torch.Tensor, *, tolerance: float = ITERATIVE_TOLERANCE
) -> torch.Tensor:
    """Noisy linear imputation of ``image`` (``[C, H, W]``) under each of ``masks`` (``[B, H * W]``, ``True`` =
    removed), on the image's device, in float64: the same systems as :func:`impute`, one per (mask, channel),
    solved together by Jacobi-preconditioned conjugate gradients. Returns ``[B, C, H, W]``.
    """
    channels, height, width = image.shape
    removed = masks.reshape(-1, 1, height, width).to(device=image.device, dtype=torch.float64)
    pixels = image.detach().to(torch.float64).unsqueeze(0)
    weight_sum = _neighbour_sum(torch.ones(1, 1, height, width, dtype=torch.float64, device=image.device))

    def apply(values: torch.Tensor) -> torch.Tensor:
        return removed * (weight_sum * values - _neighbour_sum(values))

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(dim=(-2, -1), keepdim=True)

    rhs = removed * _neighbour_sum((1 - removed) * pixels)  # [B, C, H, W]
    limit = tolerance * rhs.norm(dim=(-2, -1), keepdim=True)
    solution = torch.zeros_like(rhs)
    residual = rhs.clone()
    preconditioned = residual / weight_sum
    direction = preconditioned.clone()
    rz = dot(residual, preconditioned)
    for step in range(4 * height * width):  # CG ends in at most "unknowns" steps in exact arithmetic
        if step % 8 == 0 and bool((residual.norm(dim=(-2, -1), keepdim=True) <= limit).all()):
            break
        product = apply(direction)
        curvature = dot(direction, product)
        alpha = torch.where(curvature > 0, rz / curvature.clamp_min(1e-300), torch.zeros_like(rz))
        solution += alpha * direction
        residual -= alpha * product
        preconditioned = residual / weight_sum
        rz_next = dot(residual, preconditioned)
        direction = preconditioned + torch.where(rz > 0, rz_next / rz.clamp_min(1e-300), torch.zeros_like(rz)) * direction
        rz = rz_next
    else:
        raise RuntimeError(f"ROAD's imputation did not converge in {4 * height * width} steps")
    field = noise.detach().to(device=image.device, dtype=torch.float64).unsqueeze(0)
    return removed * (solution + field) + (1 - removed) * pixels


@dataclass(frozen=True)
class RoadCurves:
    """The target-class probability after removing each fraction, in both orders, and the gap."""

    fractions: tuple[float, ...]
    morf: tuple[float, ...]
    lerf: tuple[float, ...]

    @property
    def gap(self) -> float:
        """Mean over the fractions of LeRF - MoRF (higher is more faithful)."""
        return float(np.mean(np.subtract(self.lerf, self.morf)))

    def to_json(self) -> dict[str, object]:
        return {"fractions": list(self.fractions), "morf": list(self.morf), "lerf": list(self.lerf)}


def road(
    probabilities: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    attribution: torch.Tensor,
    fractions: Sequence[float],
    noise: torch.Tensor,
    ties: torch.Tensor,
    *,
    solver: str = "auto",
) -> RoadCurves:
    """ROAD's MoRF and LeRF curves of one example.

    ``image`` and ``attribution`` are ``[C, H, W]`` (the model's input space); ``noise`` ``[C, H, W]`` is added to
    imputed pixels (draw it once per photo, so every method is scored with the same noise); ``ties`` ``[H, W]``
    orders equal attributions (:func:`removal_order`). ``probabilities`` maps a batch ``[B, C, H, W]`` to the
    target-class probability of each image (``[B]``). ``solver``: ``"direct"`` (scipy, on the CPU),
    ``"iterative"`` (torch, on the image's device) or ``"auto"``: direct for an image on the CPU, else iterative.
    """
    if attribution.shape != image.shape or noise.shape != image.shape:
        raise ValueError(f"attribution {tuple(attribution.shape)} and noise {tuple(noise.shape)} must be shaped like the "
                         f"image {tuple(image.shape)}")
    if solver not in ("auto", "direct", "iterative"):
        raise ValueError(f"solver must be 'auto', 'direct' or 'iterative', got {solver!r}")
    order = removal_order(attribution, ties)
    masks = [mask for fraction in fractions for mask in removal_masks(order, fraction)]
    if solver == "iterative" or (solver == "auto" and image.device.type != "cpu"):
        stacked = torch.from_numpy(np.stack(masks)).to(image.device)
        batch = impute_iterative(image, stacked, noise).to(dtype=image.dtype)
    else:
        pixels = image.detach().to(torch.float64).cpu().numpy()
        field = noise.detach().to(torch.float64).cpu().numpy()
        imputed = [filled for start in range(0, len(masks), 2) for filled in impute(pixels, masks[start : start + 2], field)]
        batch = torch.from_numpy(np.stack(imputed)).to(device=image.device, dtype=image.dtype)
    scores = probabilities(batch).detach().to(torch.float64).cpu().reshape(len(fractions), 2)
    return RoadCurves(tuple(float(f) for f in fractions), tuple(scores[:, 0].tolist()), tuple(scores[:, 1].tolist()))
