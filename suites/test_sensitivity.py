"""The gate: max sensitivity of every (model, method, image) case against its baseline."""


def test_max_sensitivity(xai_case, xai_baselines):
    xai_baselines.check(xai_case, xai_case.max_sensitivity())
