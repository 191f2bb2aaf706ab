"""The gate: max sensitivity of every (model, method, image) case against its baseline."""

import pytest


@pytest.mark.xai_metric("max_sensitivity")
def test_max_sensitivity(xai_case, xai_baselines):
    xai_baselines.check(xai_case, xai_case.max_sensitivity())
