"""How much of a request body iamd reads, and reading it with that cap.

AWS publishes no request-size limit for IAM, STS or the JSON services iamd serves, so the caps
follow the largest input each service's botocore model allows, with room for its encoding:

- IAM (query protocol): 10 MiB. ``SAMLMetadataDocument`` (CreateSAMLProvider,
  UpdateSAMLProvider) may be 10,000,000 characters and ``CertificateChain`` (UploadServerCertificate)
  2,097,152 (the IAM API reference, "Length Constraints", and botocore's ``iam`` model);
- STS (query): 256 KiB. Its largest inputs are ``SAMLAssertion`` (100,000 characters) and
  ``WebIdentityToken`` (20,000);
- Organizations, CloudTrail, Access Analyzer (JSON, REST-JSON): 1 MiB; their largest members are
  100,000 characters (NextToken), 10,000 (queries), 30,720 (policies in access previews);
- IAM Roles Anywhere (REST-JSON): 1 MiB (``crlData``: 300,000 bytes, base64 in JSON);
- anything from a caller that has not shown a known access key (unsigned, a signature of the
  wrong shape, an unknown key, a date out of range): 256 KiB, enough for the unsigned STS calls
  (AssumeRoleWithSAML, AssumeRoleWithWebIdentity) and Roles Anywhere's CreateSession;
- the web console's forms: its own ``MAX_BODY`` (64 KiB, ``iamd.console.kit``), refused from
  ``Content-Length`` before any of the body is read, as here.

The headers are read first. A ``Content-Length`` over the cap is refused (HTTP 413,
``RequestEntityTooLarge`` in the protocol's error envelope) before any of the body is read; a
chunked body is read until it passes the cap, then refused the same way. A body over the
anonymous cap is read only when the signature's shape is right, its date is current and its access
key exists (or its session token opens), so a caller who knows no key id makes iamd read at most
256 KiB.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from iamd.wire import RequestEntityTooLarge

__all__ = [
    "ANONYMOUS_BODY_LIMIT",
    "SERVICE_BODY_LIMITS",
    "declared_length",
    "read_capped",
    "service_limit",
]

KIB: Final = 1024
MIB: Final = 1024 * KIB

ANONYMOUS_BODY_LIMIT: Final = 256 * KIB
SERVICE_BODY_LIMITS: Final[dict[str, int]] = {
    # By SigV4 signing name (the credential scope's service).
    "iam": 10 * MIB,
    "sts": 256 * KIB,
    "organizations": 1 * MIB,
    "cloudtrail": 1 * MIB,
    "access-analyzer": 1 * MIB,
    "rolesanywhere": 1 * MIB,
}


def service_limit(signing_name: str | None) -> int:
    """The cap for an authenticated caller of the service signed for (anonymous: unknown)."""
    if signing_name is None:
        return ANONYMOUS_BODY_LIMIT
    return SERVICE_BODY_LIMITS.get(signing_name, ANONYMOUS_BODY_LIMIT)


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The ``Content-Length`` the client announced (the server has checked its syntax), None for
    a chunked body, 0 when it announced neither (an HTTP/1.1 request without a body)."""
    chunked = False
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
        if lowered == b"transfer-encoding":
            chunked = True
    return None if chunked else 0


def too_large(limit: int, size: int | None = None) -> RequestEntityTooLarge:
    told = f"of {size} bytes " if size is not None else ""
    return RequestEntityTooLarge(
        f"The request body {told}is larger than the {limit} bytes this service accepts."
    )


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """The whole body, or :class:`RequestEntityTooLarge` as soon as it passes ``limit`` bytes
    (the rest is never read)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        parts.append(chunk)
    return b"".join(parts)
