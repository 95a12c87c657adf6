"""An iamd in-process: a bootstrapped store (SQLite in a temp directory), the trail writer, the
request pipeline and the ASGI app, as ``iamd serve`` wires them, without a socket. Requests are
signed with the bootstrap administrator's key by botocore's own signer, so they pass SigV4 and
reach the decoders (the fuzz tests' target)."""

from __future__ import annotations

import configparser
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamd.catalog import rcp_services
from iamd.clock import SystemClock
from iamd.secrets.ids import RandomIds
from iamd.secrets.kek import Kek
from iamd.server.authorizer import Authorizer
from iamd.server.bootstrap import bootstrap, write_profile
from iamd.server.pipeline import Connection, Pipeline
from iamd.services.cloudtrail import Recorder
from iamd.store import Store
from iamd.store.store import open_store
from iamd.trail.chain import load_signing_key
from iamd.trail.writer import SPOOL_FILE_NAME, TrailWriter
from iamd.wire import HttpRequest, HttpResponse

ENDPOINT = "http://127.0.0.1:8080"
LOOPBACK = Connection(source_ip="127.0.0.1", secure=False)


@dataclass
class Live:
    data_dir: Path
    store: Store
    writer: TrailWriter
    pipeline: Pipeline
    key: str
    secret: str

    def request(
        self,
        service: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        query: str = "",
    ) -> HttpRequest:
        """A request signed for ``service`` in us-east-1 by the bootstrap administrator. Header
        values are sent as they are (as Latin-1, like the ASGI server hands them over)."""
        url = f"{ENDPOINT}{path}" + (f"?{query}" if query else "")
        pairs = list(headers)
        signing = AWSRequest(method, url, data=body, headers=dict(pairs))
        SigV4Auth(Credentials(self.key, self.secret), service, "us-east-1").add_auth(signing)
        return HttpRequest.build(
            method, path, query, [("host", "127.0.0.1:8080"), *signing.headers.items()], body
        )

    def send(self, request: HttpRequest) -> HttpResponse:
        return self.pipeline.handle(request, LOOPBACK)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data_dir = tmp_path_factory.mktemp("iamd-live")
    store = open_store(f"sqlite:///{data_dir / 'iamd.db'}", kek=Kek.generate())
    clock = SystemClock()
    result = bootstrap(store, RandomIds(), clock.now(), "111111111111")
    write_profile(data_dir, result.account_id, ENDPOINT)
    credentials = configparser.ConfigParser()
    credentials.read(data_dir / "credentials")
    writer = TrailWriter(
        store, clock, signing_key=load_signing_key(data_dir), spool=data_dir / SPOOL_FILE_NAME, linger=0.01
    )
    writer.start()
    pipeline = Pipeline(store, clock, RandomIds(), Authorizer(rcp_services()), trail=Recorder(writer, store))
    try:
        yield Live(
            data_dir,
            store,
            writer,
            pipeline,
            credentials["iamd"]["aws_access_key_id"],
            credentials["iamd"]["aws_secret_access_key"],
        )
    finally:
        writer.close()
        store.close()
