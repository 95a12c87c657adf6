"""Fixtures of the server's unit tests: the request pipeline on a new PostgreSQL database."""

from __future__ import annotations

import configparser
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from tests.unit.signing import signed_query

from iamd.catalog import rcp_services
from iamd.clock import SystemClock
from iamd.secrets import Kek, SeededIds
from iamd.server.authorizer import Authorizer
from iamd.server.bootstrap import bootstrap, write_profile
from iamd.server.pipeline import Pipeline
from iamd.store import open_store
from iamd.wire import HttpRequest

PG_ACCOUNT = "111122223333"
"""The account of :func:`pg_pipeline`'s bootstrap administrator."""

Signer = Callable[..., HttpRequest]
"""``request(params, service="iam")``: a query-protocol request signed by the administrator."""


@pytest.fixture(scope="module")
def pg_pipeline() -> Iterator[tuple[Pipeline, Signer]]:
    """A pipeline on a new PostgreSQL database (the local test server), bootstrapped, and a signer
    of IAM query requests as its bootstrap administrator."""
    maintenance = os.environ.get("IAMD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(maintenance, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"iamd_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_url(maintenance).set(drivername="postgresql+psycopg", database=name)
    store = open_store(url.render_as_string(hide_password=False), kek=Kek.generate())
    data = Path(tempfile.mkdtemp(prefix="iamd-test-contention-"))
    try:
        clock = SystemClock()
        bootstrap(store, SeededIds("contention"), clock.now(), PG_ACCOUNT)
        write_profile(data, PG_ACCOUNT, "http://127.0.0.1:8080")
        creds = configparser.ConfigParser()
        creds.read(data / "credentials")
        key, secret = creds["iamd"]["aws_access_key_id"], creds["iamd"]["aws_secret_access_key"]
        pipeline = Pipeline(store, clock, SeededIds("contention-pipeline"), Authorizer(rcp_services()))

        def request(params: dict[str, str], service: str = "iam") -> HttpRequest:
            return signed_query(key, secret, service, params)

        yield pipeline, request
    finally:
        store.close()
        shutil.rmtree(data, ignore_errors=True)
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
