"""Data files for the server's own user only (issue 10, part 6)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from iamd.private_files import make_private_dir, open_private, tighten, write_private_text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_new_files_and_folders_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        folder = make_private_dir(tmp_path / "a" / "b")
        write_private_text(folder / "config", "x")
        os.close(open_private(folder / "db", os.O_RDWR))
    finally:
        os.umask(previous)
    assert mode(tmp_path / "a") == mode(folder) == 0o700
    assert mode(folder / "config") == mode(folder / "db") == 0o600


def test_tighten_repairs_and_logs_what_others_could_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("iamd.db", "sub/trail.json.gz"):
        (tmp_path / name).write_text("x")
        os.chmod(tmp_path / name, 0o644)
    (tmp_path / "private").write_text("x")
    os.chmod(tmp_path / "private", 0o600)
    os.chmod(tmp_path, 0o755)
    os.symlink("/etc/passwd", tmp_path / "link")
    with caplog.at_level(logging.WARNING, logger="iamd.files"):
        changed = tighten(tmp_path)
    assert set(changed) == {
        tmp_path,
        tmp_path / "sub",
        tmp_path / "iamd.db",
        tmp_path / "sub" / "trail.json.gz",
    }
    assert mode(tmp_path) == 0o700 and mode(tmp_path / "iamd.db") == 0o600
    assert mode(Path("/etc/passwd")) == 0o644  # a link is not followed
    assert f"{tmp_path / 'iamd.db'} was readable by other local users (mode 0o644): now 0o600" in caplog.text
