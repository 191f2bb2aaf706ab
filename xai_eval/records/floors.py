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
"""Max sensitivity (and any scalar metric): |current - recorded| <= SENSITIVITY_ATOL + SENSITIVITY_RTOL * |recorded|."""
SENSITIVITY_ATOL = 1e-6
