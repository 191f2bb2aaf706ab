"""Image manifests: real photos with their ImageNet label, source and licence."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xai_eval.errors import XaiEvalError
from xai_eval.files import read_text, unreadable

if TYPE_CHECKING:
    from PIL.Image import Image

MANIFEST_NAME = "manifest.toml"
SHIPPED_IMAGES = Path(__file__).resolve().parent.parent / "data" / "images"
"""The three fixture photos shipped in the package (coffee, cat, hopper; CC0 and public domain): the images
of a project that names none (``fixtures/images`` in xai-eval's own repository is this folder)."""
REQUIRED_KEYS = ("id", "file", "label", "class_name", "source", "licence")
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.]+$")


@dataclass(frozen=True)
class ImageEntry:
    """One photo of a manifest."""

    id: str
    path: Path
    label: int
    class_name: str
    source: str
    licence: str

    def load(self) -> Image:
        """The photo as an RGB PIL image, or a one-line error naming the file."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(self.path) as image:
                return image.convert("RGB")
        except OSError as exc:
            if exc.errno is not None and not isinstance(exc, UnidentifiedImageError):  # the system's, not the decoder's
                raise unreadable(self.path, exc) from None
            raise self._not_an_image(exc) from None
        except ValueError as exc:
            raise self._not_an_image(exc) from None

    def _not_an_image(self, exc: Exception) -> XaiEvalError:
        return XaiEvalError(
            f"{self.path}: cannot read image of manifest entry {self.id!r} ({type(exc).__name__}); "
            "replace the file or remove the entry"
        )

    def as_seen(self, height: int, width: int) -> Image:
        """The photo as the model saw it: short side resized, centre-cropped to ``height x width``."""
        from PIL import Image as PILImage

        image = self.load()
        scale = max(height / image.height, width / image.width)
        resized = image.resize((round(image.width * scale), round(image.height * scale)), PILImage.BILINEAR)
        left, top = (resized.width - width) // 2, (resized.height - height) // 2
        return resized.crop((left, top, left + width, top + height))


def load_manifest(folder: Path) -> tuple[ImageEntry, ...]:
    """Read ``folder/manifest.toml`` and check every entry and file.

    Every problem is reported as one line that names the manifest and entry.
    """
    manifest = folder / MANIFEST_NAME
    if not manifest.exists():
        raise XaiEvalError(f"{manifest}: no image manifest; create it (see docs/user-guide.md, 'Your own images') or fix --xai-images")
    text = read_text(manifest, "an image manifest", "see docs/user-guide.md, 'Your own images'")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise XaiEvalError(f"{manifest}: not valid TOML ({exc})") from None
    raw_entries = data.get("image")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise XaiEvalError(f"{manifest}: no [[image]] entries; add one table per photo")
    entries: list[ImageEntry] = []
    for index, raw in enumerate(raw_entries):
        where = f"{manifest}: [[image]] #{index + 1}"
        if not isinstance(raw, dict):
            raise XaiEvalError(f"{where}: must be a table of {', '.join(REQUIRED_KEYS)}, got {raw!r}")
        missing = [key for key in REQUIRED_KEYS if key not in raw]
        if missing:
            raise XaiEvalError(f"{where}: missing {', '.join(missing)}")
        if not isinstance(raw["id"], str) or not _ID_PATTERN.match(raw["id"]):
            raise XaiEvalError(f"{where}: id {raw['id']!r} must be letters, digits, '_' or '.'")
        if not isinstance(raw["label"], int) or isinstance(raw["label"], bool) or raw["label"] < 0:
            raise XaiEvalError(f"{where} ({raw['id']}): label {raw['label']!r} must be a class index >= 0")
        if not isinstance(raw["file"], str) or not raw["file"]:
            raise XaiEvalError(f"{where} ({raw['id']}): file {raw['file']!r} must be a path relative to the manifest")
        entry = ImageEntry(
            id=raw["id"],
            path=folder / raw["file"],
            label=raw["label"],
            class_name=str(raw["class_name"]),
            source=str(raw["source"]),
            licence=str(raw["licence"]),
        )
        if entry.path.is_dir():
            raise XaiEvalError(f"{where} ({entry.id}): file {entry.path} is a folder; point 'file' at the photo")
        if not entry.path.is_file():
            raise XaiEvalError(f"{where} ({entry.id}): file {entry.path} does not exist")
        entries.append(entry)
    ids = [entry.id for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise XaiEvalError(f"{manifest}: duplicate image ids {', '.join(duplicates)}; ids must be unique")
    return tuple(entries)
