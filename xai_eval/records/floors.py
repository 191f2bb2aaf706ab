"""The numeric floor: how far a recorded number may move when nobody changed anything.

CI runs one fixed seed, so what can move a number there without anyone meaning it (torch threads, the
device, batch sizes, the memory format) is float rounding. Every number the gate records is compared at
these floors; a change beyond one is a change, and the case's spread under other seeds then says what it
means (within Monte-Carlo noise, or beyond it). Each floor is at least 3 times the largest benign drift
measured (``benchmarks/numeric_floor.py``; the table is in the README).

They live in the bottom layer because the gate compares with them and the reports flag differences
above them.
"""

from __future__ import annotations

SENSITIVITY_RTOL = 1e-3
"""Max sensitivity: unchanged while |current - recorded| <= SENSITIVITY_ATOL + SENSITIVITY_RTOL * |recorded|."""
SENSITIVITY_ATOL = 1e-6

MAP_RELATIVE_L2 = 2e-3
"""A snapshot map (channel-summed, 56 x 56, magnitude included): unchanged while ||current - recorded|| <=
this x ||recorded||."""
MAP_CHANNEL = 2e-3
"""A snapshot's per-channel norms (full resolution): unchanged while each moves by at most this x the
recorded map's total norm."""

LOGIT_RTOL = 1e-4
"""The model's fingerprint, forward: a recorded logit is unchanged while |current - recorded| <= LOGIT_ATOL +
LOGIT_RTOL * |recorded|."""
LOGIT_ATOL = 1e-4
GRADIENT_RELATIVE_L2 = 2e-3
"""The model's fingerprint, backward: the pooled input gradient of the target logit and its per-channel
norms are unchanged while they move by at most this relative to the recorded gradient's norm."""


def within(current: float, recorded: float, rtol: float, atol: float = 0.0) -> bool:
    """``|current - recorded| <= atol + rtol * |recorded|``; False for NaN (NaN is never unchanged)."""
    return abs(current - recorded) <= atol + rtol * abs(recorded)
