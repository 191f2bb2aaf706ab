"""xai-eval: a pytest-native regression gate for attribution methods, and the Python API under it.

    import xai_eval

    run = xai_eval.evaluate(model="efficientnet_lite0", images="fixtures/images", methods=["IG"])
    run.table()                                   # a pandas DataFrame, one row per (model, method, image)
    run.check(baselines="fixtures/baselines/")    # the gate's verdicts, as data
    run.save("results.json")                      # the results file ``xai-eval report`` reads

Importing this package is cheap: the names below are imported on first use, and torch and Captum only by
the submodules that need them, so ``pytest --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from xai_eval.version import __version__

_EXPORTS = {
    "evaluate": "xai_eval.api",
    "Run": "xai_eval.api",
    "ModelBundle": "xai_eval.models.bundle",
    "MethodSpec": "xai_eval.explain.methods",
    "register_method": "xai_eval.explain.methods",
    "MetricSpec": "xai_eval.measure.metrics",
    "MetricValue": "xai_eval.measure.metrics",
    "register_metric": "xai_eval.measure.metrics",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xai_eval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
