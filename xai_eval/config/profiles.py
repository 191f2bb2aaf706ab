"""Run profiles: how large and how thorough a gate run is.

Two are built in, ``quick`` (CI-sized) and ``paper`` (the study's settings). A project defines more as
data in ``pyproject.toml``::

    [tool.xai_eval.profiles.nightly]
    extends = "quick"
    n_perturb_samples = 20

    [tool.xai_eval.profiles.nightly.methods.IG]
    n_steps = 64

A profile's per-method ``attribute()`` arguments are those of the profile it extends (for a built-in,
the method registry's entry for it) updated with its ``methods`` table. It chooses which metrics run
(``metrics = [...]``, names from :mod:`xai_eval.measure.metrics`; default: those of the profile it extends)
and may override their settings (``[tool.xai_eval.profiles.NAME.metric_settings.METRIC]``). Its baselines
live under its own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from xai_eval.errors import XaiEvalError

if TYPE_CHECKING:
    from xai_eval.explain.methods import MethodSpec
    from xai_eval.measure.metrics import MetricSpec

DEFAULT_METRICS = ("max_sensitivity", "avg_sensitivity", "infidelity", "ris", "ros", "road")
"""The metrics of both built-in profiles (``quick`` runs ROAD at fewer fractions; see the metric registry)."""


@dataclass(frozen=True)
class Profile:
    """Settings shared by every case of a run, and per-method overrides."""

    name: str
    image_size: int
    n_perturb_samples: int
    perturb_radius: float
    max_examples_per_batch: int
    """Perturbed copies explained per call inside ``sensitivity_max`` (bounds memory, changes no value)."""
    base: str = ""
    """The built-in profile this one derives from (itself for a built-in)."""
    methods: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-method ``attribute()`` arguments that replace the base profile's."""
    metrics: tuple[str, ...] = DEFAULT_METRICS
    """The metrics that run, each gated against its own baselines (:mod:`xai_eval.measure.metrics`)."""
    metric_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-metric settings that replace the base profile's."""

    def method_kwargs(self, spec: MethodSpec) -> dict[str, Any]:
        """The ``attribute()`` keyword arguments of ``spec`` under this profile."""
        return spec.kwargs_for(self.base or self.name) | dict(self.methods.get(spec.name, {}))

    def metric_kwargs(self, spec: MetricSpec) -> dict[str, Any]:
        """The settings of the metric ``spec`` under this profile."""
        return spec.settings_for(self.base or self.name) | dict(self.metric_settings.get(spec.name, {}))


_NOT_SHARED = ("name", "base", "methods", "metrics", "metric_settings")
SHARED_KEYS: dict[str, type] = {f.name: f.type for f in fields(Profile) if f.name not in _NOT_SHARED}  # type: ignore[misc]
BUILTIN_PROFILES: Mapping[str, Profile] = MappingProxyType({
    "quick": Profile("quick", image_size=224, n_perturb_samples=10, perturb_radius=0.02, max_examples_per_batch=5,
                     base="quick"),
    "paper": Profile("paper", image_size=224, n_perturb_samples=10, perturb_radius=0.02, max_examples_per_batch=5,
                     base="paper"),
})
DEFAULT_PROFILE = "quick"
_MINIMUM = {"image_size": 8, "n_perturb_samples": 1, "max_examples_per_batch": 1}


def _shared_value(key: str, value: Any, where: str) -> Any:
    if key == "perturb_radius":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise XaiEvalError(f"{where}: {key} must be a number >= 0, got {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < _MINIMUM[key]:
        raise XaiEvalError(f"{where}: {key} must be a whole number >= {_MINIMUM[key]}, got {value!r}")
    return value


TABLE_KEYS: tuple[str, ...] = ("extends", "methods", *SHARED_KEYS, "metrics", "metric_settings")
"""Every key a ``[tool.xai_eval.profiles.NAME]`` table may have (docs/reference.md's profile-table section lists
them; tests/test_docs.py checks it)."""
COUNT_KEYS = frozenset({
    "n_steps", "nt_samples", "n_samples", "internal_batch_size", "nt_samples_batch_size", "n_samples_batch_size",
    "perturbations_per_eval",
})
"""Method arguments that count samples, steps or a batch: whole numbers >= 1."""


def _method_value(method: str, key: str, value: Any, base: Any, where: str) -> Any:
    """``value`` in the type of the base profile's ``base`` value (lists become tuples)."""
    if key in COUNT_KEYS and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise XaiEvalError(f"{where}: {key} must be a whole number >= 1, got {value!r}")
    if base is None:
        return tuple(value) if isinstance(value, list) else value
    if isinstance(base, bool) or isinstance(value, bool):
        if type(base) is not type(value):
            raise XaiEvalError(f"{where}: {key} must be {type(base).__name__}, got {value!r}")
        return value
    if isinstance(base, float) and isinstance(value, (int, float)):
        return float(value)
    if isinstance(base, tuple) and isinstance(value, list) and len(value) == len(base) and all(
        isinstance(v, type(b)) and not isinstance(v, bool) for v, b in zip(value, base)
    ):
        return tuple(value)
    if type(value) is type(base):
        return value
    raise XaiEvalError(f"{where}: {key} must be like {base!r} ({type(base).__name__}), got {value!r}")


def _allowed_method_keys(spec: MethodSpec, base_kwargs: Mapping[str, Any]) -> set[str]:
    import inspect

    from xai_eval.explain.paired import PairedGradientShap, PairedNoiseTunnel

    classes: list[Any] = [spec.resolve_class(), spec.resolve_wrapped()]
    names = {getattr(c, "__name__", "") for c in classes}
    classes += [PairedNoiseTunnel] if "NoiseTunnel" in names else []
    classes += [PairedGradientShap] if "GradientShap" in names else []
    allowed = set(base_kwargs)
    for cls in classes:
        if cls is not None and hasattr(cls, "attribute"):
            allowed |= set(inspect.signature(cls.attribute).parameters) - {"self", "inputs", "target", "baselines"}
    return allowed - {"kwargs", "additional_forward_args", "return_convergence_delta", "draw_name"}


def define_profile(name: str, table: Mapping[str, Any], defined: Mapping[str, Profile], config_file: str) -> Profile:
    """A profile from its ``[tool.xai_eval.profiles.NAME]`` table; one-line errors naming the key.

    Method names and their keys are checked here, so methods registered in a ``conftest.py`` must be
    registered before the profile is resolved (the session does so at collection).
    """
    from xai_eval.explain.methods import get_method

    where = f"{config_file} [tool.xai_eval.profiles.{name}]"
    if not isinstance(table, Mapping):
        raise XaiEvalError(f"{where}: must be a table of settings")
    if name in BUILTIN_PROFILES:
        raise XaiEvalError(f"{where}: {name!r} is a built-in profile; give yours another name")
    parent_name = table.get("extends")
    if not isinstance(parent_name, str) or parent_name not in defined:
        raise XaiEvalError(f"{where} extends: must name a profile defined before it ({', '.join(defined)}), got {parent_name!r}")
    parent = defined[parent_name]
    unknown = sorted(set(table) - set(TABLE_KEYS))
    if unknown:
        raise XaiEvalError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(TABLE_KEYS)}")
    shared = {key: _shared_value(key, table[key], f"{where} {key}") for key in SHARED_KEYS if key in table}
    raw_methods = table.get("methods", {})
    if not isinstance(raw_methods, Mapping):
        raise XaiEvalError(f"{where} methods: must be tables [tool.xai_eval.profiles.{name}.methods.METHOD]")
    methods = {method: dict(values) for method, values in parent.methods.items()}
    for method, overrides in raw_methods.items():
        method_where = f"{config_file} [tool.xai_eval.profiles.{name}.methods.{method}]"
        spec = get_method(method, where=method_where)
        if not isinstance(overrides, Mapping):
            raise XaiEvalError(f"{method_where}: must be a table of attribute() arguments")
        base_kwargs = parent.method_kwargs(spec)
        allowed = _allowed_method_keys(spec, base_kwargs)
        for key, value in overrides.items():
            if key not in allowed:
                raise XaiEvalError(f"{method_where}: unknown key {key!r}; known: {', '.join(sorted(allowed))}")
            methods.setdefault(method, {})[key] = _method_value(
                method, key, value, base_kwargs.get(key), f"{method_where} {key}"
            )
    metrics = _metrics(table.get("metrics", parent.metrics), f"{where} metrics")
    metric_settings = _metric_settings(table.get("metric_settings", {}), parent, name, config_file)
    return replace(parent, name=name, methods=MappingProxyType(methods), metrics=metrics,
                   metric_settings=MappingProxyType(metric_settings), **shared)


def _metrics(value: Any, where: str) -> tuple[str, ...]:
    """A profile's ``metrics``: a non-empty list of registered metric names, each once."""
    from xai_eval.measure.metrics import get_metric

    if isinstance(value, tuple):
        return value
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise XaiEvalError(f"{where}: expected a non-empty list of metric names, e.g. [\"max_sensitivity\", \"road\"], got {value!r}")
    for metric in value:
        get_metric(metric, where=where)
    if len(set(value)) != len(value):
        raise XaiEvalError(f"{where}: {value!r} names a metric twice")
    return tuple(value)


def _metric_value(key: str, value: Any, base: Any, where: str) -> Any:
    """Like a method argument, except that a list of numbers may have any length (e.g. ROAD's fractions)."""
    if isinstance(base, tuple) and isinstance(value, list) and base and isinstance(base[0], float):
        if not value or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise XaiEvalError(f"{where}: {key} must be a non-empty list of numbers, got {value!r}")
        return tuple(float(v) for v in value)
    return _method_value("", key, value, base, where)


def _metric_settings(raw: Any, parent: Profile, name: str, config_file: str) -> dict[str, dict[str, Any]]:
    """A profile's ``metric_settings`` tables over its parent's: known keys, values typed like the parent's."""
    from xai_eval.measure.metrics import get_metric

    if not isinstance(raw, Mapping):
        raise XaiEvalError(f"{config_file} [tool.xai_eval.profiles.{name}] metric_settings: must be tables "
                           f"[tool.xai_eval.profiles.{name}.metric_settings.METRIC]")
    settings = {metric: dict(values) for metric, values in parent.metric_settings.items()}
    for metric, overrides in raw.items():
        where = f"{config_file} [tool.xai_eval.profiles.{name}.metric_settings.{metric}]"
        spec = get_metric(metric, where=where)
        if not isinstance(overrides, Mapping):
            raise XaiEvalError(f"{where}: must be a table of the metric's settings")
        base = parent.metric_kwargs(spec)
        for key, value in overrides.items():
            if key not in base:
                known = ", ".join(sorted(base)) or "none (this metric has no settings)"
                raise XaiEvalError(f"{where}: unknown key {key!r}; known: {known}")
            settings.setdefault(metric, {})[key] = _metric_value(key, value, base[key], f"{where} {key}")
        problem = spec.validate(base | settings.get(metric, {})) if spec.validate is not None else ""
        if problem:
            raise XaiEvalError(f"{where}: {problem}")
    return settings


def resolve_profiles(tables: Mapping[str, Any], config_file: str) -> dict[str, Profile]:
    """Built-in profiles plus the project's, in definition order (a profile extends an earlier one)."""
    profiles = dict(BUILTIN_PROFILES)
    for name, table in tables.items():
        profiles[name] = define_profile(name, table, profiles, config_file)
    return profiles


def get_profile(name: str, profiles: Mapping[str, Profile] = BUILTIN_PROFILES, where: str = "--xai-profile") -> Profile:
    """The profile called ``name``, or a one-line error naming the choices."""
    try:
        return profiles[name]
    except KeyError:
        raise XaiEvalError(
            f"{where}: unknown profile {name!r}; choose one of {', '.join(profiles)} "
            "or define it under [tool.xai_eval.profiles.NAME]"
        ) from None
