"""On SQLite the event loop runs light writes itself (iamd.server.inline_writes): never while
another process holds the database's write lock. Then reads and health checks still answer at
once, and the writes wait on a write thread and succeed once the lock is given back."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.harness import start_server, stop_server


def test_a_locked_database_holds_up_writes_but_not_the_loop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        iam = server.client("iam")
        iam.create_user(UserName="alice")
        for n in range(20):  # measured light: run by the loop from now on
            iam.tag_user(UserName="alice", Tags=[{"Key": "n", "Value": str(n)}])
        iam.get_user(UserName="alice")  # (the key's last use noted before the lock)
        lock = sqlite3.connect(data / "iamd.db", timeout=0, isolation_level=None)
        outcome: dict[str, Any] = {}

        def tag() -> None:
            try:
                outcome["answer"] = iam.tag_user(UserName="alice", Tags=[{"Key": "n", "Value": "locked"}])
            except Exception as error:  # reported below
                outcome["error"] = error

        writer = threading.Thread(target=tag)
        try:
            lock.execute("BEGIN IMMEDIATE")
            writer.start()
            time.sleep(0.3)  # the write is waiting now
            for _ in range(3):
                began = time.monotonic()
                assert iam.get_user(UserName="alice")["User"]["UserName"] == "alice"
                with urllib.request.urlopen(f"{server.endpoint}/iamd/health", timeout=5) as answer:
                    assert json.loads(answer.read())["status"] in ("ok", "degraded")
                assert time.monotonic() - began < 2.0
            assert writer.is_alive() and not outcome  # still waiting for the database
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            writer.join(30)
        assert "error" not in outcome, outcome
        tags = iam.list_user_tags(UserName="alice")["Tags"]
        assert tags == [{"Key": "n", "Value": "locked"}]
        for n in range(5):  # and the loop runs light writes again
            iam.tag_user(UserName="alice", Tags=[{"Key": "n", "Value": f"after{n}"}])
        assert iam.list_user_tags(UserName="alice")["Tags"] == [{"Key": "n", "Value": "after4"}]
    finally:
        stop_server(server)
