"""Query-protocol requests (IAM, STS) signed with SigV4 by botocore, built as the server hands
them to the pipeline: for tests and benchmarks that call ``Pipeline.handle`` in process."""

from __future__ import annotations

import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from iamd.wire import HttpRequest

ENDPOINT = "http://127.0.0.1:8080/"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def signed_query(
    key: str, secret: str, service: str, params: dict[str, str], token: str | None = None
) -> HttpRequest:
    """A POST of ``params`` (``Action`` among them; ``Version`` added for IAM or STS) to
    ``service`` in us-east-1, signed with the key (and session token)."""
    version = "2011-06-15" if service == "sts" else "2010-05-08"
    body = urllib.parse.urlencode({"Version": version, **params}).encode()
    signing = AWSRequest("POST", ENDPOINT, data=body, headers=dict(FORM_HEADERS))
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(signing)
    return HttpRequest.build("POST", "/", "", [("host", "127.0.0.1:8080"), *signing.headers.items()], body)
