"""The compact encodings a run stores in its JSON: heat maps as float16 and photos as PNG, both base64.

The gate writes them (benchmark ``extra_info``), the report reads them, so they live below both.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from PIL.Image import Image

EXTRA_INFO_KEY = "xai_eval"
"""Where xai-eval keeps its data in a pytest-benchmark report (each benchmark's extra_info, and the top level)."""


def encode_map(attribution: torch.Tensor) -> dict[str, Any]:
    """The channel-summed attribution as base64 float16 (enough for a heat map)."""
    return encode_array(attribution.detach().sum(dim=-3)[0].float().cpu().numpy())


def decode_map(data: dict[str, Any]) -> Any:
    """Inverse of :func:`encode_map`: an ``H x W`` float32 numpy array."""
    import numpy as np

    return decode_array(data).astype(np.float32)


def encode_png(image: Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def encode_array(values: Any) -> dict[str, Any]:
    """A float16 numpy array as base64 with its shape (test reports carry it from xdist workers)."""
    import numpy as np

    array = np.ascontiguousarray(values, dtype=np.float16)
    return {"shape": list(array.shape), "float16_base64": base64.b64encode(array.tobytes()).decode()}


def decode_array(data: dict[str, Any]) -> Any:
    """Inverse of :func:`encode_array`: the float16 array."""
    import numpy as np

    return np.frombuffer(base64.b64decode(data["float16_base64"]), dtype=np.float16).reshape(data["shape"]).copy()
