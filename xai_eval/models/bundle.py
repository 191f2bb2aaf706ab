"""What a model factory returns: the model, its preprocessing and its Grad-CAM layer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image


@dataclass(frozen=True)
class ModelBundle:
    """A classifier ready for the gate.

    Attributes:
        model: an ``nn.Module`` mapping a batch ``N x C x H x W`` to logits ``N x classes``.
        transform: maps a PIL RGB image to the normalised ``C x H x W`` float tensor the model expects.
        gradcam_layer: dotted module path (``"layer4"``) of the last convolutional block,
            used by Guided Grad-CAM.
        name: the name used in messages; defaults to the registry name or ``module.callable``
            (test ids and baselines always use those, so they are known before any model loads).
        categories: optional class names, indexed by class.
        channels_last: keep the model's weights in ``torch.channels_last`` memory format (a per-model
            choice: faster where depthwise convolutions dominate, as in EfficientNet-Lite0; measured in
            docs/benchmarks.md, Memory format). Inputs stay NCHW (faster for input gradients); explanations are
            made contiguous before any metric sees them.
        last_block: dotted path of the last block, randomised by the model-parameter randomisation
            check before the whole network; empty means ``gradcam_layer`` (filled in when the gate loads it).
    """

    model: torch.nn.Module
    transform: Callable[[Image], torch.Tensor]
    gradcam_layer: str
    name: str = ""
    categories: Sequence[str] | None = None
    last_block: str = ""
    channels_last: bool = False

    def with_name(self, name: str) -> ModelBundle:
        """This bundle with its name (unless it has one) and its last block filled in."""
        from dataclasses import replace

        return replace(self, name=self.name or name, last_block=self.last_block or self.gradcam_layer)


def imagenet_transform(image_size: int, mean: Sequence[float], std: Sequence[float]) -> Callable[[Any], Any]:
    """Resize the short side, centre-crop to ``image_size``, scale to [0, 1], normalise."""
    from torchvision import transforms

    return transforms.Compose(
        [
            transforms.Resize(image_size, interpolation=transforms.InterpolationMode.BILINEAR, antialias=True),
            transforms.CenterCrop(image_size),
            transforms.ToTensor(),
            transforms.Normalize(mean, std),
        ]
    )
