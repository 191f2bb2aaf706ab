"""The effective settings of run profiles, as one Markdown table.

``xai-eval profiles [NAME ...]`` prints it for the built-in profiles and a project's own, and the
table of the built-in ones in docs/reference.md is this table (``tests/test_docs.py`` compares them). Every
cell comes from the profile and the method and metric registries: the shared settings under the names a
profile table uses, each method's ``attribute()`` arguments and baselines as the gate passes them, the
metrics the profile runs and each metric's settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xai_eval.errors import XaiEvalError
from xai_eval.config.profiles import BUILTIN_PROFILES, SHARED_KEYS, Profile, get_profile, resolve_profiles

if TYPE_CHECKING:
    from xai_eval.explain.methods import MethodSpec
    from xai_eval.measure.metrics import MetricSpec

BASELINES = {"none": "", "zeros": "baselines: zeros", "zeros_and_noise": "baselines: {zeros, N(0,1) noise}"}


def project_profiles(pyproject: Path | None) -> dict[str, Profile]:
    """The built-in profiles and those under ``[tool.xai_eval.profiles]`` of ``pyproject`` (if given)."""
    from xai_eval.config.settings import profile_tables

    if pyproject is None:
        return dict(BUILTIN_PROFILES)
    return resolve_profiles(profile_tables(pyproject), str(pyproject))


def chosen(profiles: Mapping[str, Profile], names: Sequence[str]) -> list[Profile]:
    """The profiles called ``names`` (all of them when none is named), or a one-line error."""
    return [get_profile(name, profiles, where="profiles") for name in names] if names else list(profiles.values())


def _toml(value: Any) -> str:
    """``value`` as it is written in a ``pyproject.toml`` profile table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def _class_name(target: str | type) -> str:
    return target.rpartition(".")[2] if isinstance(target, str) else target.__name__


def _method_label(spec: MethodSpec) -> str:
    wrapped = "" if spec.wraps is None else f" over `{_class_name(spec.wraps)}`"
    return f"{spec.name} (`{_class_name(spec.captum_class)}`{wrapped})"


def _method_cell(profile: Profile, spec: MethodSpec) -> str:
    kwargs = profile.method_kwargs(spec)
    parts = ["`" + ", ".join(f"{key}={_toml(value)}" for key, value in kwargs.items()) + "`" if kwargs else "Captum defaults"]
    if BASELINES[spec.baselines]:
        parts.append(BASELINES[spec.baselines])
    return "; ".join(parts)


def _metric_cell(profile: Profile, spec: MetricSpec) -> str:
    if spec.name not in profile.metrics:
        return "not run"
    settings = profile.metric_kwargs(spec)
    return "`" + ", ".join(f"{key}={_toml(value)}" for key, value in settings.items()) + "`"


def _header(profile: Profile) -> str:
    return f"`{profile.name}`" if profile.base in ("", profile.name) else f"`{profile.name}` (from `{profile.base}`)"


def settings_table(profiles: Sequence[Profile]) -> str:
    """One column per profile: the shared settings, then every registered method's arguments."""
    from xai_eval.explain.methods import METHODS
    from xai_eval.measure.metrics import METRICS

    if not profiles:
        raise XaiEvalError("profiles: no profile to show")
    rows = [[f"`{key}`", *(_toml(getattr(p, key)) for p in profiles)] for key in SHARED_KEYS]
    rows += [[_method_label(spec), *(_method_cell(p, spec) for p in profiles)] for spec in METHODS.values()]
    rows += [["`metrics`", *(f"`{_toml(list(p.metrics))}`" for p in profiles)]]
    rows += [[f"{spec.name} (metric)", *(_metric_cell(p, spec) for p in profiles)] for spec in METRICS.values()
             if spec.settings or any(p.metric_settings.get(spec.name) for p in profiles)]
    lines = ["| setting | " + " | ".join(_header(p) for p in profiles) + " |", "|" + "---|" * (len(profiles) + 1)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
