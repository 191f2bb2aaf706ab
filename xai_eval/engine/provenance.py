"""What computed a run: the package versions behind its numbers, and the work it was asked to do.

Both go into the results file and the benchmark JSON, so ``xai-eval compare`` and ``merge`` can tell
whether two runs computed the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def work_info(profile: Profile, models: Sequence[str], methods: Sequence[str], images: Sequence[ImageEntry]) -> dict[str, Any]:
    """What the run was asked to compute, whatever the hardware: ``xai-eval compare`` refuses runs that differ
    here. ``models`` are the model specs as configured. The profile's settings as resolved, the models and methods requested (a method the device skipped
    still counts), and each photo's id with a digest of its file."""
    import dataclasses
    import hashlib

    from xai_eval.models.registry import model_id

    settings = {
        field.name: getattr(profile, field.name) for field in dataclasses.fields(profile) if field.name not in ("name", "methods")
    }
    settings["methods"] = {method: dict(kwargs) for method, kwargs in profile.methods.items()}
    settings["metrics"] = list(profile.metrics)
    settings["metric_settings"] = {metric: dict(values) for metric, values in profile.metric_settings.items()}
    return {
        "profile_settings": settings,
        "models": [model_id(spec) for spec in models],
        "methods": list(methods),
        "photos": {entry.id: hashlib.sha256(entry.path.read_bytes()).hexdigest()[:16] for entry in images},
    }
