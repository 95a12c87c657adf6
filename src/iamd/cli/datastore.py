"""What the commands that work on an existing data directory share (``iamd root``, ``iamd account``):
their ``--data-dir``/``--database-url``/``--kek`` options, the check that ``iamd serve`` made the
database, and opening the store with the key-encryption key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iamd.store.store import Store

__all__ = ["add_store_arguments", "existing_data_dir", "open_data_store"]


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", required=True, type=Path, help="the server's data directory")
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite file DATA_DIR/iamd.db)")
    parser.add_argument(
        "--kek", help="key-encryption key(s), base64, comma-separated (default: $IAMD_KEK or DATA_DIR/kek)"
    )


def existing_data_dir(args: argparse.Namespace, command: str) -> Path | None:
    """The data directory, resolved; None (after saying so on standard error) when it holds no
    database and no ``--database-url`` names one."""
    data_dir: Path = args.data_dir.resolve()
    if args.database_url is None and not (data_dir / "iamd.db").exists():
        print(f"iamd {command}: no database in {data_dir}: run iamd serve first", file=sys.stderr)
        return None
    return data_dir


def open_data_store(args: argparse.Namespace, data_dir: Path) -> Store:
    from iamd.secrets.kek import load_kek
    from iamd.store.engine import default_url
    from iamd.store.store import open_store

    return open_store(args.database_url or default_url(data_dir), kek=load_kek(data_dir, key=args.kek))
