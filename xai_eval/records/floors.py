"""The numeric floor: how far a recorded number may move when nobody changed anything.

CI runs one fixed seed, so what can move a number there without anyone meaning it (torch threads, the
device, batch sizes, the memory format) is float rounding. Every number the gate records is compared at
these floors; a change beyond one is a change, and the case's spread under other seeds then says what it
means (within Monte-Carlo noise, or beyond it). Each floor is at least 3 times the largest benign drift
measured on the CPU (``benchmarks/numeric_floor.py``: one thread, an NCHW model, other batch sizes, two
xdist workers) and between the CPU and a GPU (the quick gate on an H100 and on an H200 against the
CPU-recorded baselines); both tables are in docs/benchmarks.md. The fingerprints' floors have not been
measured across devices (their CPU margins are 50x and more).

They live in the bottom layer because the gate compares with them and the reports flag differences
above them.
"""

from __future__ import annotations

SENSITIVITY_RTOL = 1.6e-3
"""Max sensitivity: unchanged while |current - recorded| <= SENSITIVITY_ATOL + SENSITIVITY_RTOL * |recorded|.
Largest drift on the CPU: 1.1e-4 relative (one thread); CPU against an H100: 3.2e-4; against an H200:
5.3e-4 (IG-SG on hopper), so 3 x 5.3e-4. RIS (5.3e-4 on the H200) and infidelity (2.5e-4) use it too."""
SENSITIVITY_ATOL = 1e-6

AVG_SENSITIVITY_RTOL = 2e-3
"""Average sensitivity: unchanged while |current - recorded| <= SENSITIVITY_ATOL + AVG_SENSITIVITY_RTOL * |recorded|.
Its largest benign drift was 4.7e-4 relative (one thread; IG-VG on cat; 9.6e-5 on the H200), more than max sensitivity's 1.1e-4: the
mean moves with every perturbed explanation, the maximum with one."""
ROS_RTOL = 2e-3
"""Relative output stability, likewise: its largest benign drift was 5.7e-4 relative (one thread; IG-SG on hopper;
4.2e-4 on the H200). Relative input stability (1.1e-4; 5.3e-4 on the H200) and infidelity (3.1e-5; 2.5e-4 on the
H200) stay under a third of the max-sensitivity floor and use it."""
ROAD_ATOL = 1.4e-2
"""ROAD's gap (a probability): unchanged while |current - recorded| <= ROAD_ATOL. Its largest benign drift was
3.1e-3 (NCHW model) and 2.2e-3 (one thread) on the CPU, and 4.5e-3 between the CPU and an H200 (IG on hopper),
absolute, on gaps from -0.23 to 0.61; the floor is 3 x 4.5e-3, rounded up. The removal order is a
step function of the attribution, so float rounding that swaps two nearly equal pixels at a removal fraction's
cut moves a pixel in or out of the imputed set. A relative floor cannot hold a gap near 0."""

MAP_RELATIVE_L2 = 5e-3
"""A snapshot map (channel-summed, 56 x 56, magnitude included): unchanged while ||current - recorded|| <=
this x ||recorded||. Largest drift: 1.4e-3 (GradientSHAP on cat, NCHW model; 9.8e-4 on the H200), almost all of it float16
storage: a drift of 1e-5 flips the rounding of many of a noisy map's stored values by one step."""
MAP_CHANNEL = 1e-3
"""A snapshot's per-channel norms (full resolution): unchanged while each moves by at most this x the
recorded map's total norm. Largest drift: 1.3e-5 on the CPU, 2.1e-4 between the CPU and an H200."""

LOGIT_RTOL = 1e-4
"""The model's fingerprint, forward: a recorded logit is unchanged while |current - recorded| <= LOGIT_ATOL +
LOGIT_RTOL * |recorded|. Largest drift: 4.6e-7 relative."""
LOGIT_ATOL = 1e-4
GRADIENT_RELATIVE_L2 = 1e-3
"""The model's fingerprint, backward: the pooled input gradient of the target logit and its per-channel
norms are unchanged while they move by at most this relative to the recorded gradient's norm. Largest
drift: 8.2e-7."""


def tolerance(recorded: float, rtol: float, atol: float = 0.0) -> float:
    """The numeric floor around ``recorded``: ``atol + rtol * |recorded|``."""
    return atol + rtol * abs(recorded)


def within(current: float, recorded: float, rtol: float, atol: float = 0.0) -> bool:
    """``|current - recorded| <=`` :func:`tolerance`; False for NaN (NaN is never unchanged)."""
    return abs(current - recorded) <= tolerance(recorded, rtol, atol)
