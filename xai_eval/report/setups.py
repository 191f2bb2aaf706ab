"""What a run computed (its work) and where (its hardware), as ``xai-eval compare`` tells them apart.

Runs of the same work on different hardware are what ``compare`` is for; runs of different work
(profile, seed, models, methods, photos, profile settings) compare nothing and are refused unless
``--allow-different``. Each field is a small mapping of names to values, so a difference is named:
``methods (Occlusion only in [A])``, ``settings (n_perturb_samples 10 vs 20)``. A field a report does not
record is unknown (None) and never counts as a difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from xai_eval.report.runs import UNKNOWN, Run

Field = Mapping[str, str]
"""A name -> value mapping; a scalar is ``{"": value}``, a set ``{name: ""}``."""


def tag(index: int) -> str:
    """How the CLI names the ``index``-th report: [A] (the reference), [B], ..."""
    return f"[{chr(ord('A') + index)}]"


def _scalar(value: Any) -> Field | None:
    return None if value is None or value == UNKNOWN else {"": str(value)}


def _names(names: Sequence[str]) -> Field:
    return dict.fromkeys(names, "")


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as dotted keys: ``{"methods": {"IG": {"n_steps": 32}}}`` -> ``{"methods.IG.n_steps": "32"}``."""
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: json.dumps(value)}


def work(run: Run) -> dict[str, Field | None]:
    """The run's work; models and methods come from its cases where the report does not record them."""
    recorded = run.work
    return {
        "profile": _scalar(run.profile),
        "seed": _scalar(run.machine.get("xai_seed")),
        "models": _names(recorded.get("models") or sorted({model for model, _ in run.cases})),
        "methods": _names(recorded.get("methods") or sorted({method for _, method in run.cases})),
        "photos": recorded.get("photos"),
        "settings": _flat(recorded["profile_settings"]) if "profile_settings" in recorded else None,
    }


def device_kind(run: Run) -> str | None:
    """``cuda``, ``cpu``, ``mps`` (``cuda:1`` is ``cuda``); None where the report does not say."""
    device = run.machine.get("xai_device")
    return device.split(":")[0] if isinstance(device, str) else None


def hardware(run: Run) -> dict[str, str | None]:
    """What the run computed on, as the column headings name it: the processor that did the work (the GPU
    on an accelerator, else the CPU and its cores), torch threads and the software builds."""
    machine = run.machine
    kind = device_kind(run)
    gpu = machine.get("gpu")
    on_cpu = kind in (None, "cpu")
    torch_version = machine.get("torch_version")
    cuda = machine.get("cuda_version")
    return {
        "processor": run.cpu if on_cpu else str(gpu or kind),
        "threads": run.threads,
        "torch": None if torch_version is None else f"torch {torch_version}",
        "CUDA": None if on_cpu or cuda is None else f"CUDA {cuda}",
        "captum": None if "captum" not in run.versions else f"captum {run.versions['captum']}",
        "xai-eval": f"xai-eval {run.xai_eval_version or UNKNOWN}",
    }


def _describe(name: str, first: Field, other: Field, names: tuple[str, str]) -> str | None:
    """How two values of a field differ, e.g. ``seed (0 vs 1)`` or ``methods (Occlusion only in [A])``."""
    if first == other:
        return None
    parts = [f"{key} {first[key]} vs {other[key]}".strip() for key in first if key in other and first[key] != other[key]]
    for mine, theirs, owner in ((first, other, names[0]), (other, first, names[1])):
        only = [key for key in mine if key not in theirs]
        if only:
            parts.append(f"{', '.join(only)} only in {owner}")
    return f"{name} ({'; '.join(parts)})"


def work_differences(runs: Sequence[Run]) -> list[str]:
    """Per later run, how its work differs from the first's, e.g. "[A] and [B] differ in seed (0 vs 1)"."""
    first = work(runs[0])
    notes = []
    for index, run in enumerate(runs[1:], start=1):
        other = work(run)
        differ = [
            text for name in first
            if (mine := first[name]) is not None and (theirs := other[name]) is not None
            and (text := _describe(name, mine, theirs, (tag(0), tag(index)))) is not None
        ]
        if differ:
            notes.append(f"{tag(0)} and {tag(index)} differ in {', '.join(differ)}")
    return notes


def headings(runs: Sequence[Run]) -> list[str]:
    """Each run's column heading: its tag and the hardware fields that differ between the runs, e.g.
    ``[B] AMD EPYC ×2, 2 threads, torch 2.14.1+cu130`` (only the tag where nothing differs). A field that
    some runs do not have, such as CUDA on a CPU run, differs only where two runs have different values."""
    described = [hardware(run) for run in runs]
    differ = [name for name in described[0] if len({fields[name] for fields in described} - {None}) > 1]
    return [
        " ".join([tag(index), ", ".join(value for name in differ if (value := fields[name]) is not None)]).strip()
        for index, fields in enumerate(described)
    ]


def _code_name(code: Mapping[str, Any]) -> str:
    commit = f" at {code['commit']}" if code.get("commit") else ""
    return f"xai-eval {code.get('xai_eval', UNKNOWN)}{commit}, registry and settings {code.get('digest', UNKNOWN)}"


def different_code(runs: Sequence[Run]) -> str | None:
    """``different code ([A] ... vs [B] ...)`` when every run records the code that computed it and two differ:
    in version, in registry-and-settings digest, or in commit where both ran from a checkout. None otherwise."""
    codes = [run.code for run in runs]
    if any(code is None for code in codes):
        return None
    first = codes[0]
    for code in codes[1:]:
        commits = (first.get("commit"), code.get("commit"))
        if (code.get("xai_eval"), code.get("digest")) != (first.get("xai_eval"), first.get("digest")) or (
            None not in commits and commits[0] != commits[1]
        ):
            return "different code (" + " vs ".join(f"{tag(i)} {_code_name(c)}" for i, c in enumerate(codes)) + ")"
    return None


def numerics(runs: Sequence[Run]) -> str | None:
    """Why the runs' gated numbers cannot be compared as hardware drift (None: they can): they were computed by
    different code, or a run does not record its code (a report from before runs recorded it), so xai-eval
    itself may have computed them differently."""
    differ = different_code(runs)
    if differ:
        return differ
    missing = [tag(index) for index, run in enumerate(runs) if run.code is None]
    if not missing:
        return None
    versions = ", ".join(f"{tag(index)} xai-eval {run.xai_eval_version or UNKNOWN}" for index, run in enumerate(runs))
    return f"the code that computed {', '.join(missing)} is not recorded (a report from before runs recorded it; {versions})"
