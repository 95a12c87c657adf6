"""The trail as files, in CloudTrail's S3 layout (``iamd serve --trail-dir DIR``)::

    DIR/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_RANDOM.json.gz

each file a gzipped ``{"Records": [...]}``. Files are written for sealed records only, in chain
order; ``DIR/.iamd-exported-seq`` remembers how far, so a restart carries on where the last run
stopped (a crash between a file and that note can repeat records, never lose them).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import string
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from iamd.private_files import make_private_dir, open_private, write_private_text
from iamd.store.audit import SealedEvent

__all__ = ["TrailFiles"]

STATE_FILE: Final = ".iamd-exported-seq"
_ALPHABET: Final = string.ascii_letters + string.digits
_REGION: Final = re.compile(r"[a-z]{2,8}(-[a-z]{2,12}){1,3}-[0-9]{1,2}", re.ASCII)


class TrailFiles:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        make_private_dir(directory)
        self._state = directory / STATE_FILE

    def exported_seq(self) -> int:
        """The last seq written to a file (0: none yet)."""
        try:
            return int(self._state.read_text(encoding="ascii").strip() or "0")
        except FileNotFoundError:
            return 0

    def write(self, events: Sequence[SealedEvent], now: datetime) -> list[Path]:
        """Write ``events`` (in seq order), one file per account and region; return the files."""
        if not events:
            return []
        groups: dict[tuple[str, str], list[str]] = {}
        for event in events:
            try:
                region = str(json.loads(event.record).get("awsRegion") or "us-east-1")
            except ValueError:
                region = "us-east-1"
            if not _REGION.fullmatch(region):  # it names a folder and a file: nothing else
                region = "us-east-1"
            groups.setdefault((event.account_id or "unknown", region), []).append(event.record)
        stamp = now.astimezone(UTC)
        written = []
        for (account, region), records in groups.items():
            folder = (
                self.directory
                / "AWSLogs"
                / account
                / "CloudTrail"
                / region
                / f"{stamp:%Y}"
                / f"{stamp:%m}"
                / f"{stamp:%d}"
            )
            make_private_dir(folder)
            suffix = "".join(secrets.choice(_ALPHABET) for _ in range(16))
            path = folder / f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{suffix}.json.gz"
            body = ('{"Records":[' + ",".join(records) + "]}").encode("utf-8")
            temporary = path.with_name(path.name + ".tmp")
            flags = os.O_WRONLY | os.O_TRUNC
            with (
                os.fdopen(open_private(temporary, flags), "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh,
            ):
                fh.write(body)
            os.replace(temporary, path)
            written.append(path)
        self._note(events[-1].seq)
        return written

    def _note(self, seq: int) -> None:
        temporary = self._state.with_name(STATE_FILE + ".tmp")
        write_private_text(temporary, f"{seq}\n")
        os.replace(temporary, self._state)
