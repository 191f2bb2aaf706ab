"""Deprecated: the metric registry moved to :mod:`xai_eval.measure.metrics` (also ``xai_eval.register_metric``).

This path keeps working for one release, with a ``DeprecationWarning`` (see docs/changelog.md).
"""

from __future__ import annotations

import warnings

from xai_eval.measure.metrics import (  # noqa: F401 - re-exported
    MAX_SENSITIVITY,
    METRICS,
    MetricSpec,
    MetricValue,
    get_metric,
    register_metric,
)

warnings.warn(
    "xai_eval.gate.metrics moved to xai_eval.measure.metrics (or use xai_eval.register_metric); "
    "the old path goes away in the next release",
    DeprecationWarning,
    stacklevel=2,
)
