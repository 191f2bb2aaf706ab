"""A run's code identity changes with the code: an edited source, another registry entry, other settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xai_eval.engine import provenance

PACKAGE = Path(provenance.__file__).resolve().parents[1]


def test_an_edited_source_changes_the_source_digest(tmp_path: Path) -> None:
    copy = tmp_path / "xai_eval"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "data"))
    assert provenance.source_digest(copy) == provenance.source_digest()
    road = copy / "measure" / "road.py"
    road.write_text(road.read_text().replace("TIE_BREAK = 1e-4", "TIE_BREAK = 2e-4"))
    assert provenance.source_digest(copy) != provenance.source_digest()


def test_the_digest_follows_the_registries_and_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from xai_eval.explain import methods

    before = provenance.registry_digest({"image_size": 224})
    assert provenance.registry_digest({"image_size": 224}) == before
    assert provenance.registry_digest({"image_size": 112}) != before
    ig = methods.get_method("IG")
    monkeypatch.setitem(methods._REGISTRY, "IG", dataclasses.replace(ig, init_kwargs={"multiply_by_inputs": False}))
    assert provenance.registry_digest({"image_size": 224}) != before


def test_the_identity_names_version_commit_and_digest() -> None:
    from xai_eval.version import __version__

    code = provenance.code_identity({"image_size": 224})
    assert code["xai_eval"] == __version__ and len(code["digest"]) == 16
    assert code["commit"] is None or len(code["commit"].split("+")[0]) == 12
