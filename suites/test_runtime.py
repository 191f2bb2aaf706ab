"""Runtime of one attribution call per (model, method), recorded by pytest-benchmark.

Run with ``--benchmark-json=run.json`` for a report that ``xai-eval report`` and
``xai-eval compare`` read. pytest-benchmark disables timing under xdist.
"""

import pytest


@pytest.mark.xai_one_image
def test_runtime(xai_case, xai_benchmark):
    xai_benchmark(xai_case)
