"""The files xai-eval reads and writes: reads that fail in one line naming the file and the fix, and
atomic writes (a reader never sees a half-written file) to places checked before a run starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from xai_eval.errors import XaiEvalError


def read_text(path: Path, what: str, fix: str) -> str:
    """``path``'s UTF-8 text, or one line (``XaiEvalError``) saying that it is missing, a folder,
    unreadable or not text. ``what`` names the file ("an image manifest"), ``fix`` says how to fix it."""
    check_readable(path, what, fix)
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise unreadable(path, exc) from None
    except UnicodeDecodeError as exc:
        raise XaiEvalError(f"{path}: not UTF-8 text, so not {what} (byte {exc.start}); {fix}") from None


def check_readable(path: Path, what: str, fix: str) -> None:
    """One line unless ``path`` is a file this process can open for reading."""
    if path.is_dir():
        raise XaiEvalError(f"{path}: is a folder, not {what}; {fix}")
    if not path.exists():
        raise XaiEvalError(f"{path}: no such file ({what}); {fix}")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise unreadable(path, exc) from None


def unreadable(path: Path, exc: OSError) -> XaiEvalError:
    """The one-line error for a file that exists but could not be read (permissions, I/O)."""
    return XaiEvalError(f"{path}: cannot be read ({exc.strerror or exc}); give this user read permission or replace the file")


def check_writable(path: Path, where: str) -> None:
    """One line unless ``path`` can be written (created, with its folders): not a folder, no file in the
    way of its folders, and a writable folder to create it in. ``where`` names the option or key."""
    if path.is_dir():
        raise XaiEvalError(f"{where} {path}: is a folder; give the path of a file (.json) to write")
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise XaiEvalError(f"{where} {path}: {existing} is a file, so no folder can be made there; give another path")
    if not os.access(existing, os.W_OK | os.X_OK):  # the file is written beside itself, then renamed
        raise XaiEvalError(f"{where} {path}: this user cannot write in {existing}; give a writable path")


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temp file in ``path``'s folder, fsync it, then ``os.replace`` it into place."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file in ``path``'s folder, fsync it, then ``os.replace`` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, mode)  # mkstemp makes 0600; keep the file's mode (or the umask default)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
