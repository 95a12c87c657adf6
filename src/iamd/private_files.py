"""Files only the server's own user may read: the data directory (0700) and everything in it
(0600) — the database with its password hashes and policies, its ``-wal`` and ``-shm`` files, the
key-encryption key, the bootstrap credentials and config, the trail's spool and signing key — and
the trail files exported with ``--trail-dir``.

New files are created with these modes whatever the umask; :func:`tighten` fixes what an older
iamd (or a copy, or a restore) left readable by others, logging each file it changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "make_private_dir",
    "open_private",
    "tighten",
    "write_private_text",
]

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
_OTHERS: Final = stat.S_IRWXG | stat.S_IRWXO

log = logging.getLogger("iamd.files")


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents with mode 0700 (parents that exist are left as
    they are; ``path`` itself is made 0700 if it is looser)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)  # mkdir's mode is cut by the umask
    if path.stat().st_mode & _OTHERS:
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` with mode 0600 for a new file, and 0600 forced on an existing one."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(fd).st_mode & _OTHERS:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8), the file being 0600."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as fh:
        fh.write(text)


def _walk(root: Path) -> Iterator[tuple[Path, bool]]:
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        for name in dirs:
            yield base / name, True
        for name in files:
            yield base / name, False


def tighten(root: Path) -> list[Path]:
    """Make ``root`` and every directory under it 0700, every regular file 0600, where they
    allow more (group or others); symbolic links are not followed. Returns what changed."""
    changed: list[Path] = []
    if not root.is_dir():
        return changed
    for path, is_dir in [(root, True), *_walk(root)]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(mode) or not (mode & _OTHERS):
            continue
        if not (is_dir or stat.S_ISREG(mode)):
            continue
        wanted = DIR_MODE if is_dir else FILE_MODE
        os.chmod(path, wanted)
        log.warning(
            "%s was readable by other local users (mode %s): now %s",
            path,
            oct(stat.S_IMODE(mode)),
            oct(wanted),
        )
        changed.append(path)
    return changed
