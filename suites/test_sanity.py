"""Sanity properties: max sensitivity says an explanation is stable; these say it is an explanation.

Each test runs one check of :mod:`xai_eval.engine.sanity` (the Python API runs the same): well-formed,
complete (IG, GradientSHAP), conservative (LRP), dependent on the model's weights (cascading randomisation)
and on the target class, deterministic. Thresholds are the named constants in :mod:`xai_eval.measure.sanity`,
each documented with its reason and its measured distribution. A check that cannot be made informative for
a case reports *inconclusive*: a visible skip, counted in the summary, never a pass.
"""

from __future__ import annotations

import pytest

from xai_eval.measure import checks


def test_well_formed(xai_case, xai_sanity):
    xai_sanity(xai_case, "well_formed")


@pytest.mark.xai_methods(*checks.COMPLETENESS_METHODS)
def test_completeness(xai_case, xai_sanity):
    xai_sanity(xai_case, "completeness")


@pytest.mark.xai_methods("LRP")
def test_lrp_conservation(xai_case, xai_sanity):
    xai_sanity(xai_case, "conservation")


def test_randomization(xai_case, xai_sanity):
    xai_sanity(xai_case, "randomization")


@pytest.mark.xai_one_image
def test_deterministic(xai_case, xai_sanity):
    """Bit-identical on a fresh explainer: a property of the method, its draws and the device, not of the
    photo, so it runs on the manifest's first image (a third of the cost; see the cost table in docs/benchmarks.md)."""
    xai_sanity(xai_case, "deterministic")


def test_target_dependence(xai_case, xai_sanity):
    xai_sanity(xai_case, "target_dependence")
