"""Manifest validation: every problem is one line naming the manifest and entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from xai_eval.errors import XaiEvalError
from xai_eval.config.images import load_manifest

from .conftest import MANIFEST, write_png


def _manifest(folder: Path, body: str) -> None:
    (folder / "manifest.toml").write_text(body)


def test_valid_manifest(tmp_path: Path) -> None:
    write_png(tmp_path / "a.png")
    _manifest(tmp_path, MANIFEST.format(id="a", file="a.png", label=1))
    (entry,) = load_manifest(tmp_path)
    assert entry.id == "a" and entry.label == 1 and entry.load().mode == "RGB"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "no [[image]] entries"),
        ("[[image]\n", "not valid TOML"),
        ('[[image]]\nid = "a"\n', "#1: missing file, label, class_name, source, licence"),
        (MANIFEST.format(id="a b", file="a.png", label=1), "id 'a b' must be"),
        (MANIFEST.format(id="a", file="a.png", label=-1), "label -1 must be a class index"),
        (MANIFEST.format(id="a", file="gone.png", label=1), "gone.png does not exist"),
        (MANIFEST.format(id="a", file="a.png", label=1) * 2, "duplicate image ids a"),
    ],
)
def test_bad_manifests(tmp_path: Path, body: str, message: str) -> None:
    write_png(tmp_path / "a.png")
    _manifest(tmp_path, body)
    with pytest.raises(XaiEvalError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        load_manifest(tmp_path)
    assert "\n" not in str(info.value)
    assert "manifest.toml" in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(XaiEvalError, match="no image manifest"):
        load_manifest(tmp_path)


def test_corrupt_image_names_file_and_entry(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG broken")
    _manifest(tmp_path, MANIFEST.format(id="a", file="a.png", label=1))
    (entry,) = load_manifest(tmp_path)
    with pytest.raises(XaiEvalError, match=r"a\.png: cannot read image of manifest entry 'a'"):
        entry.load()
