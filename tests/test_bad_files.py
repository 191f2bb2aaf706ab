"""Every file the gate and the ``xai-eval`` command read or write, guarded: a folder, an unreadable file,
garbage, an unwritable place each give one line naming the file and the fix, and a non-zero exit."""

from __future__ import annotations

import json

import builtins
import errno
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from xai_eval.report.cli import main

from .conftest import MANIFEST
from .test_cli import CPU

Deny = Callable[[Path], None]


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> Deny:
    """``deny(path)``: opening ``path`` raises PermissionError, as for a user without read permission
    (the tests may run as root, where a chmod does not stop a read). For in-process runs only."""
    denied: set[str] = set()
    real_open = builtins.open

    def guarded_open(file: object, *args: object, **kwargs: object) -> object:
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(os.fspath(file)) in denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    return lambda path: denied.add(os.path.abspath(path))


def _one_line(result: pytest.RunResult, *fragments: str) -> None:
    """A usage error whose message names the file and the fix on one line: no traceback, no INTERNALERROR."""
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert any(all(fragment in line for fragment in fragments) for line in output.splitlines()), (fragments, output)


def _cli_one_line(capsys: pytest.CaptureFixture[str], code: int, *fragments: str) -> None:
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("xai-eval: error: "), err
    assert all(fragment in err for fragment in fragments), (fragments, err)


# --- pyproject.toml [tool.xai_eval]: pytest reads the file first (and reports garbage itself), except
# under ``-c FILE``, where only xai-eval reads it; ``xai-eval profiles`` reads it too (tests/test_docs.py)


@pytest.mark.parametrize("bad", ["unreadable", "garbage"])
def test_pyproject_that_cannot_be_read_is_one_line(gate_project: pytest.Pytester, unreadable: Deny, bad: str) -> None:
    gate_project.makeini("[pytest]\n")
    pyproject = gate_project.path / "pyproject.toml"
    if bad == "unreadable":
        unreadable(pyproject)
        _one_line(gate_project.runpytest("-c", "tox.ini"), "pyproject.toml: cannot be read (Permission denied)", "read permission")
    else:
        pyproject.write_text("[tool.xai_eval\n")
        _one_line(gate_project.runpytest("-c", "tox.ini"), "pyproject.toml: not valid TOML")


def test_profiles_of_an_unreadable_pyproject(tmp_path: Path, unreadable: Deny, capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.xai_eval]\n")
    unreadable(pyproject)
    _cli_one_line(capsys, main(["profiles", "--pyproject", str(pyproject)]), "pyproject.toml: cannot be read (Permission denied)")


# --- the images: manifest.toml and the photos


@pytest.mark.parametrize(
    ("name", "bad", "fragments"),
    [
        ("manifest.toml", "folder", ("manifest.toml: is a folder, not an image manifest", "Your own images")),
        ("manifest.toml", "unreadable", ("manifest.toml: cannot be read (Permission denied)", "read permission")),
        ("b.png", "folder", ("manifest.toml: [[image]] #2 (b): file", "b.png is a folder; point 'file' at the photo")),
        ("b.png", "unreadable", ("b.png: cannot be read (Permission denied)", "read permission")),
    ],
)
def test_image_files_that_are_folders_or_unreadable(
    gate_project: pytest.Pytester, unreadable: Deny, name: str, bad: str, fragments: tuple[str, ...]
) -> None:
    path = gate_project.path / "images" / name
    if bad == "folder":
        path.unlink()
        path.mkdir()
    else:
        unreadable(path)
    _one_line(gate_project.runpytest(), *fragments)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("image = [1, 2]\n", "[[image]] #1: must be a table of id, file, label"),
        (MANIFEST.format(id="a", file="a.png", label=3).replace('file = "a.png"', "file = 5"), "(a): file 5 must be a path"),
        ("\xff", "not valid TOML"),
    ],
)
def test_manifest_garbage(gate_project: pytest.Pytester, body: str, fragment: str) -> None:
    (gate_project.path / "images" / "manifest.toml").write_text(body)
    _one_line(gate_project.runpytest(), "manifest.toml", fragment)


def test_manifest_not_utf8(gate_project: pytest.Pytester) -> None:
    (gate_project.path / "images" / "manifest.toml").write_bytes(b"\xff\xfe[[image]]")
    _one_line(gate_project.runpytest(), "manifest.toml: not UTF-8 text, so not an image manifest")


# --- the baselines file (a folder and garbage: tests/test_bad_input.py)


def test_unreadable_baselines(gate_project: pytest.Pytester, unreadable: Deny) -> None:
    gate_project.runpytest("--xai-update-baselines").assert_outcomes(passed=4)
    unreadable(gate_project.path / "baselines.json")
    _one_line(gate_project.runpytest(), "baselines.json: cannot be read (Permission denied)", "read permission")


# --- model weights (--xai-resnet18-weights) and module:callable


def _setup_error(result: pytest.RunResult, *fragments: str) -> None:
    """The cases error in setup with the one line (the model is built when a case first needs it)."""
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED and "Traceback" not in output and "INTERNALERROR" not in output, output
    assert any(all(fragment in line for fragment in fragments) for line in output.splitlines()), (fragments, output)


def test_weights_path_that_is_a_folder(gate_project: pytest.Pytester) -> None:
    folder = gate_project.mkdir("weights")
    result = gate_project.runpytest("--xai-model", "resnet18", "--xai-resnet18-weights", str(folder))
    result.assert_outcomes(errors=4)
    _setup_error(result, "--xai-resnet18-weights:", "weights is a folder; point it at the weights file resnet18-f37072fd.pth")


def test_unreadable_weights(gate_project: pytest.Pytester, unreadable: Deny) -> None:
    weights = gate_project.path / "resnet18.pth"
    weights.write_bytes(b"weights")
    unreadable(weights)
    result = gate_project.runpytest("--xai-model", "resnet18", "--xai-resnet18-weights", str(weights))
    result.assert_outcomes(errors=4)
    _setup_error(result, "resnet18.pth: cannot be read (Permission denied)", "read permission")


def test_garbage_weights(gate_project: pytest.Pytester) -> None:
    weights = gate_project.path / "resnet18.pth"
    weights.write_bytes(b"not a state dict")
    result = gate_project.runpytest("--xai-model", "resnet18", "--xai-resnet18-weights", str(weights))
    result.assert_outcomes(errors=4)
    _setup_error(result, "resnet18.pth: not a ResNet-18 state dict", "fetch it again with")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("raise RuntimeError('no GPU driver')", "(RuntimeError: no GPU driver)"),
        ("def build(:\n    pass", "(SyntaxError: "),
        ("import sys\nsys.exit(3)", "(SystemExit: 3)"),
    ],
)
def test_model_module_that_fails_to_import(gate_project: pytest.Pytester, source: str, fragment: str) -> None:
    gate_project.makepyfile(brokenmodel=source)
    _one_line(gate_project.runpytest("--xai-model", "brokenmodel:build"),
              "--xai-model: cannot import module 'brokenmodel'", fragment, "make it importable")


# --- what the run writes: --xai-results, and the baselines under --xai-update-baselines


@pytest.mark.parametrize(
    ("option", "setup", "fragment"),
    [
        ("--xai-results", lambda p: (p / "out").mkdir(), "--xai-results out: is a folder; give the path of a file"),
        ("--xai-results", lambda p: (p / "out").write_text("x"), "--xai-results out/results.json: out is a file, so no folder"),
        ("--xai-baselines", lambda p: (p / "out").write_text("x"), "--xai-baselines out/results.json: out is a file, so no folder"),
    ],
)
def test_output_path_that_cannot_be_written_is_refused_before_the_run(
    gate_project: pytest.Pytester, option: str, setup: Callable[[Path], object], fragment: str
) -> None:
    setup(gate_project.path)
    target = "out" if "is a folder" in fragment else "out/results.json"
    _one_line(gate_project.runpytest(option, target, "--xai-update-baselines"), fragment)


def test_results_in_a_folder_this_user_cannot_write(gate_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = gate_project.mkdir("locked")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path).resolve() != locked and real_access(path, mode, **kw))
    _one_line(gate_project.runpytest("--xai-results", "locked/results.json"),
              "--xai-results locked/results.json: this user cannot write in locked; give a writable path")


# --- the files xai-eval report, compare and snapshots read


def test_report_and_compare_of_an_unreadable_report(tmp_path: Path, unreadable: Deny, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run.json"
    run.write_bytes(CPU.read_bytes())
    unreadable(run)
    _cli_one_line(capsys, main(["report", str(run), "--out", str(tmp_path / "r")]), f"{run}: cannot be read (Permission denied)")
    _cli_one_line(capsys, main(["compare", str(CPU), str(run)]), f"{run}: cannot be read (Permission denied)")


def test_report_of_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cli_one_line(capsys, main(["report", str(tmp_path), "--out", str(tmp_path / "r")]), f"{tmp_path}: is a folder, not a report")


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        (lambda p, deny: p.mkdir(), "results.json: is a folder, not a results file or a benchmark JSON; give the files written by"),
        (lambda p, deny: (p.write_text("{}"), deny(p)), "results.json: cannot be read (Permission denied)"),
        (lambda p, deny: p.write_bytes(b"\xff{}"), "results.json: not UTF-8 text, so not a results file"),
        (lambda p, deny: p.write_text("{"), "results.json: not JSON (Expecting property name"),
        (lambda p, deny: p.write_text('{"cases": [{"snapshot": [1]}]}'), "results.json: results schema_version None, this xai-eval reads 2"),
        (lambda p, deny: p.write_text(json.dumps({"schema_version": 2, "run": {}, "cases": [
            {"profile": "quick", "model": "m", "method": "IG", "image": "cat", "snapshot": {"status": "changed", "meaning": "beyond"}}]})),
         "results.json: the changed snapshot of IG/cat lacks its maps or scales"),
    ],
)
def test_snapshots_of_a_bad_results_file(
    tmp_path: Path, unreadable: Deny, capsys: pytest.CaptureFixture[str], setup: Callable[[Path, Deny], object], fragment: str
) -> None:
    results = tmp_path / "results.json"
    setup(results, unreadable)
    _cli_one_line(capsys, main(["snapshots", str(results), "--out", str(tmp_path / "figures")]), fragment)
    assert not (tmp_path / "figures").exists(), "a bad file is reported before any folder is made"
