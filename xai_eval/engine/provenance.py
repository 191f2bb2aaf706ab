"""What computed a run: the package versions behind its numbers, and the work it was asked to do.

Both go into the results file and the benchmark JSON, so ``xai-eval compare`` and ``merge`` can tell
whether two runs computed the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from xai_eval.config.images import ImageEntry
    from xai_eval.config.profiles import Profile


def versions() -> dict[str, str]:
    """The versions that compute the numbers; ``xai_eval``'s tells ``xai-eval compare`` whether two runs'
    numbers come from the same xai-eval numerics."""
    import captum
    import torch
    import torchvision

    from xai_eval.version import __version__

    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "captum": captum.__version__,
            "xai_eval": __version__}


def profile_settings(profile: Profile) -> dict[str, Any]:
    """The profile's settings as resolved (every shared setting, each method's arguments, the metrics and theirs)."""
    import dataclasses

    settings = {
        field.name: getattr(profile, field.name) for field in dataclasses.fields(profile) if field.name not in ("name", "methods")
    }
    settings["methods"] = {method: dict(kwargs) for method, kwargs in profile.methods.items()}
    settings["metrics"] = list(profile.metrics)
    settings["metric_settings"] = {metric: dict(values) for metric, values in profile.metric_settings.items()}
    return settings


def work_info(profile: Profile, models: Sequence[str], methods: Sequence[str], images: Sequence[ImageEntry]) -> dict[str, Any]:
    """What the run was asked to compute, whatever the hardware: ``xai-eval compare`` refuses runs that differ
    here. ``models`` are the model specs as configured. The profile's settings as resolved, the models and methods requested (a method the device skipped
    still counts), and each photo's id with a digest of its file."""
    import hashlib

    from xai_eval.models.registry import model_id

    return {
        "profile_settings": profile_settings(profile),
        "models": [model_id(spec) for spec in models],
        "methods": list(methods),
        "photos": {entry.id: hashlib.sha256(entry.path.read_bytes()).hexdigest()[:16] for entry in images},
    }


def _stable(value: Any) -> Any:
    """``value`` as JSON-able data that is the same in every process: a class or function by its import path."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _stable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(key): _stable(item) for key, item in sorted(value.items(), key=lambda pair: str(pair[0]))}
    if isinstance(value, (list, tuple)):
        return [_stable(item) for item in value]
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def source_digest(package: Path | None = None) -> str:
    """A digest of the xai_eval package's Python sources as installed (or of ``package``, a folder): another
    build, an edit, another commit."""
    import hashlib
    from pathlib import Path

    package = package or Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def registry_digest(settings: Any = None) -> str:
    """A digest of the package's sources (:func:`source_digest`), of what the method and metric registries declare
    (a project's own registered methods and metrics included) and of ``settings`` (a run's resolved profile
    settings): two runs with the same digest ran the same code on the same settings. Code outside the package
    (a project's metric function, torch, Captum) is named, not hashed: its versions are in ``run.versions``."""
    import hashlib
    import json

    from xai_eval.explain.methods import METHODS
    from xai_eval.measure.metrics import METRICS

    content = {"sources": source_digest(), "methods": _stable(dict(METHODS)), "metrics": _stable(dict(METRICS)),
               "settings": _stable(settings)}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def checkout_commit() -> str | None:
    """The git commit of the checkout xai-eval runs from (``+dirty`` with uncommitted changes), or None when it
    runs from an installed wheel or git is not there."""
    import subprocess
    from pathlib import Path

    package = Path(__file__).resolve().parents[1]
    if not (package.parent / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(package.parent), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(package.parent), "status", "--porcelain", "--untracked-files=no", "--", "xai_eval"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head[:12]}+dirty" if dirty else head[:12]


def code_identity(settings: Any = None) -> dict[str, Any]:
    """What computed a run's numbers: the xai-eval version, the checkout's commit (None outside a checkout) and
    :func:`registry_digest`. ``xai-eval compare`` calls a difference between runs of different code "different
    code", never hardware drift."""
    from xai_eval.version import __version__

    return {"xai_eval": __version__, "commit": checkout_commit(), "digest": registry_digest(settings)}
