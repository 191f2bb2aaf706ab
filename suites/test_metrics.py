"""Every other metric of the profile, each gated like max sensitivity (``suites/test_sensitivity.py``).

The profile's ``metrics`` list chooses them (:mod:`xai_eval.measure.metrics`: average sensitivity, infidelity,
relative input and output stability, ROAD, and any registered in a ``conftest.py``); each is compared with
its own baselines, ``METRIC.json`` beside the max-sensitivity baselines file.
"""


def test_metric(xai_case, xai_metric, xai_baselines):
    xai_baselines.check_metric(xai_case, xai_metric)
