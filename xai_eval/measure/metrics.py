"""The registry of metrics: small declarative entries, beside the method registry.

Each entry names a function of a case (the case's paired draws, its explanations and the photo's shared
perturbations, all through :class:`MetricCase`), its settings per profile, which direction
is better, what it costs and the numeric floor its value is compared at. A profile chooses which metrics
run (``metrics = [...]`` in ``[tool.xai_eval.profiles.NAME]``); every metric that runs is gated like max
sensitivity: a committed baseline per case, compared at the floor, a change classified against the seed
spread (``--xai-calibrate K``), accepted with ``--xai-update-baselines``. Add your own from a
``conftest.py``::

    from xai_eval.measure.metrics import MetricSpec, register_metric

    def attribution_share(case, seed, settings):
        attribution = case.attribution_under(seed)
        return float(attribution.clamp_min(0).sum() / attribution.abs().sum())

    register_metric(MetricSpec(
        name="positive_share", compute=attribution_share, lower_is_better=False,
        cost="no model call (the case's attribution)", rtol=1e-3, atol=1e-6, bounds=(0.0, 1.0),
    ))

(``rtol`` and ``atol`` are its numeric floor: measure the largest drift that threads, batch sizes and the
device cause, e.g. with ``benchmarks/numeric_floor.py``, and keep at least 3 times that).

and list it in a profile: ``[tool.xai_eval.profiles.mine]`` with ``extends = "quick"`` and
``metrics = ["max_sensitivity", "positive_share"]``. Its baselines go to ``positive_share.json`` beside the
max-sensitivity baselines file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from xai_eval.errors import XaiEvalError
from xai_eval.records.floors import AVG_SENSITIVITY_RTOL, ROAD_ATOL, ROS_RTOL, SENSITIVITY_ATOL, SENSITIVITY_RTOL

if TYPE_CHECKING:
    import torch

    from xai_eval.measure.road import RoadCurves
    from xai_eval.measure.sensitivity import Sensitivity
    from xai_eval.measure.stability import RelativeStability

MAX_SENSITIVITY = "max_sensitivity"
"""The metric whose baselines file is ``--xai-baselines`` (``baselines``) and whose test is
``suites/test_sensitivity.py``; every other metric of a profile runs in ``suites/test_metrics.py``."""
OWN_TESTS = frozenset({MAX_SENSITIVITY})
"""Metrics gated by a test of their own (marked ``xai_metric(NAME)``), so ``xai_metric`` leaves them out."""
NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class MetricValue:
    """A metric's value for one case, with what else a reader of the results needs."""

    value: float
    details: Mapping[str, Any] = field(default_factory=dict)
    """Recorded in the results file beside the value (e.g. ROAD's curves, prediction changes)."""
    undefined: str = ""
    """Why the metric is not defined for this case (the value is then NaN and the check inconclusive)."""


class MetricCase(Protocol):
    """What a metric may ask of a case: its identity, input and target, its explanations under a seed, and the
    computations its photo shares (:class:`xai_eval.engine.cases.CaseRun` is the implementation)."""

    inputs: torch.Tensor
    """The preprocessed photo, ``1 x C x H x W``."""

    @property
    def target(self) -> int: ...

    def attribution_under(self, seed: int) -> torch.Tensor: ...

    def sensitivity(self, run_seed: int | None = None) -> Sensitivity: ...

    def relative_stability(self, seed: int, reference: str) -> RelativeStability: ...

    def infidelity(self, seed: int, *, n_samples: int, square_side: float) -> float: ...

    def road(self, seed: int, *, fractions: tuple[float, ...], noise: float) -> RoadCurves: ...


MetricFunction = Callable[[MetricCase, int, Mapping[str, Any]], "float | MetricValue"]
"""``compute(case, seed, settings)``: the metric of ``case`` under the run's seed or another (calibration),
with the profile's settings for the metric."""


@dataclass(frozen=True)
class MetricSpec:
    """One metric."""

    name: str
    """Lower-case letters, digits and ``_``: it names the baselines file (``NAME.json``) and ends test ids."""
    compute: MetricFunction
    lower_is_better: bool
    cost: str
    """What one case costs, in words (e.g. "1 sparse solve per fraction + 2 forward passes per fraction")."""
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per built-in profile (``quick``, ``paper``), the settings ``compute`` gets; a profile's
    ``[tool.xai_eval.profiles.NAME.metric_settings.METRIC]`` table overrides them. Empty: no settings."""
    label: str = ""
    """A short name for tables (default: ``name``)."""
    rtol: float | None = None
    atol: float | None = None
    """The numeric floor: unchanged while ``|current - recorded| <= atol + rtol * |recorded|``. Every metric
    declares its own (measured: a floor borrowed from another metric says nothing about this one's rounding);
    :func:`register_metric` refuses one without."""
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """The values the metric can take: no interval it is reported with leaves them (default: any)."""
    validate: Callable[[Mapping[str, Any]], str] | None = None
    """Checks a profile's settings; returns what is wrong ('' if nothing)."""
    description: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name

    def settings_for(self, profile: str) -> dict[str, Any]:
        """The settings under the built-in profile ``profile`` (none for a metric without settings)."""
        if not self.settings:
            return {}
        try:
            return dict(self.settings[profile])
        except KeyError:
            raise XaiEvalError(
                f"metric {self.name!r} has no settings for profile {profile!r}; add settings[{profile!r}] to its MetricSpec"
            ) from None

    def evaluate(self, case: MetricCase, seed: int, settings: Mapping[str, Any]) -> MetricValue:
        """``compute`` as a :class:`MetricValue` (a plain number is wrapped; a non-number is one line)."""
        result = self.compute(case, seed, settings)
        if isinstance(result, MetricValue):
            return result
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            try:
                return MetricValue(float(result))  # a 0-d tensor or numpy number
            except (TypeError, ValueError):
                raise XaiEvalError(
                    f"metric {self.name!r}: its function returned {type(result).__name__}, not a number or MetricValue"
                ) from None
        return MetricValue(float(result))


_REGISTRY: dict[str, MetricSpec] = {}
METRICS: Mapping[str, MetricSpec] = MappingProxyType(_REGISTRY)


def register_metric(spec: MetricSpec, *, replace: bool = False) -> MetricSpec:
    """Add ``spec`` to the registry (``replace=True`` to override an entry)."""
    if not NAME.fullmatch(spec.name):
        raise XaiEvalError(
            f"metric name {spec.name!r}: use lower-case letters, digits and '_' (it names the baselines file NAME.json)"
        )
    if spec.rtol is None or spec.atol is None or spec.rtol < 0 or spec.atol < 0:
        raise XaiEvalError(
            f"metric {spec.name!r}: declare its numeric floor, MetricSpec(..., rtol=..., atol=...) >= 0, measured as the "
            "largest drift threads, batch sizes and the device cause (e.g. with benchmarks/numeric_floor.py), times 3"
        )
    if spec.name in _REGISTRY and not replace:
        raise XaiEvalError(f"metric {spec.name!r} is already registered; pass replace=True to override it")
    _REGISTRY[spec.name] = spec
    return spec


def get_metric(name: str, where: str = "metrics") -> MetricSpec:
    """The registered metric called ``name``, or a one-line error naming the choices."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise XaiEvalError(
            f"{where}: unknown metric {name!r}; choose from {', '.join(_REGISTRY)} "
            "or register it with xai_eval.measure.metrics.register_metric in a conftest.py"
        ) from None


# The built-in metrics. Each is a few lines over a pure function of xai_eval.measure; what a photo's cases
# share (its perturbations, the model's outputs on them) is computed once per photo by the case.


def _max_sensitivity(case: MetricCase, seed: int, settings: Mapping[str, Any]) -> float:
    return float(case.sensitivity(seed).max[0])


def _avg_sensitivity(case: MetricCase, seed: int, settings: Mapping[str, Any]) -> float:
    return float(case.sensitivity(seed).mean[0])


def _relative_stability(reference: str) -> MetricFunction:
    def compute(case: MetricCase, seed: int, settings: Mapping[str, Any]) -> MetricValue:
        result = case.relative_stability(seed, reference)
        details = {"kept": result.kept, "prediction_changes": result.prediction_changes, "floored": result.floored}
        if result.kept == 0:
            return MetricValue(math.nan, details, f"every one of the {result.prediction_changes} perturbations changed "
                               "the model's prediction, so relative stability is not defined here")
        return MetricValue(result.value, details)

    return compute


def _infidelity(case: MetricCase, seed: int, settings: Mapping[str, Any]) -> float:
    return case.infidelity(seed, n_samples=settings["n_samples"], square_side=settings["square_side"])


def _road(case: MetricCase, seed: int, settings: Mapping[str, Any]) -> MetricValue:
    curves = case.road(seed, fractions=tuple(settings["fractions"]), noise=settings["noise"])
    return MetricValue(curves.gap, curves.to_json())


def _check_fractions(settings: Mapping[str, Any]) -> str:
    fractions = settings.get("fractions", ())
    if not fractions or any(not 0 < f < 1 for f in fractions) or list(fractions) != sorted(set(fractions)):
        return f"fractions must be increasing numbers strictly between 0 and 1, got {list(fractions)!r}"
    if not settings.get("noise", 0) >= 0:
        return f"noise must be a number >= 0, got {settings.get('noise')!r}"
    return ""


def _check_square(settings: Mapping[str, Any]) -> str:
    side = settings.get("square_side", 0)
    return "" if 0 < side <= 1 else f"square_side must be a fraction of the image's side in (0, 1], got {side!r}"


NON_NEGATIVE = (0.0, math.inf)
STABILITY_COST = "none beyond max sensitivity's perturbed explanations"
for _spec in (
    MetricSpec(
        name=MAX_SENSITIVITY, compute=_max_sensitivity, lower_is_better=True, label="max sensitivity",
        rtol=SENSITIVITY_RTOL, atol=SENSITIVITY_ATOL, bounds=NON_NEGATIVE,
        cost="n_perturb_samples explanations of perturbed inputs (Captum's sensitivity_max)",
        description="Captum's max sensitivity: the largest relative change of the explanation under the perturbations",
    ),
    MetricSpec(
        name="avg_sensitivity", compute=_avg_sensitivity, lower_is_better=True, label="average sensitivity", cost=STABILITY_COST,
        rtol=AVG_SENSITIVITY_RTOL, atol=SENSITIVITY_ATOL, bounds=NON_NEGATIVE,
        description="average sensitivity: the mean of the ratios whose maximum is max sensitivity",
    ),
    MetricSpec(
        name="ris", compute=_relative_stability("input"), lower_is_better=True, label="RIS", cost=STABILITY_COST,
        rtol=SENSITIVITY_RTOL, atol=SENSITIVITY_ATOL, bounds=NON_NEGATIVE,
        description="relative input stability (Agarwal et al. 2022): explanation change over input change, worst case",
    ),
    MetricSpec(
        name="ros", compute=_relative_stability("output"), lower_is_better=True, label="ROS",
        cost=STABILITY_COST + "; n_perturb_samples forward passes per photo (shared by its methods)", rtol=ROS_RTOL,
        atol=SENSITIVITY_ATOL, bounds=NON_NEGATIVE,
        description="relative output stability (Agarwal et al. 2022): explanation change over logit change, worst case",
    ),
    MetricSpec(
        name="infidelity", compute=_infidelity, lower_is_better=True, label="infidelity", validate=_check_square,
        rtol=SENSITIVITY_RTOL, atol=SENSITIVITY_ATOL, bounds=NON_NEGATIVE,
        settings={"quick": {"n_samples": 64, "square_side": 0.25}, "paper": {"n_samples": 128, "square_side": 0.25}},
        cost="n_samples forward passes per photo (shared by its methods), then a dot product per sample",
        description="Captum's infidelity with normalize=True over random square removals (Yeh et al. 2019)",
    ),
    MetricSpec(
        name="road", compute=_road, lower_is_better=False, label="ROAD gap", validate=_check_fractions,
        rtol=0.0, atol=ROAD_ATOL, bounds=(-1.0, 1.0),
        settings={"quick": {"fractions": (0.2, 0.5, 0.8), "noise": 0.044},
                  "paper": {"fractions": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), "noise": 0.044}},
        cost="one sparse solve and 2 forward passes per fraction",
        description="ROAD (Rong et al. 2022): mean LeRF - MoRF target probability under noisy linear imputation",
    ),
):
    register_metric(_spec)
