"""The signing keys of an OpenID Connect provider: ``<issuer>/.well-known/openid-configuration``
names ``jwks_uri``, whose JSON Web Key Set verifies the provider's ID tokens.

Fetched over HTTPS, with the system's certificate authorities; a server whose certificate they do
not vouch for is still accepted when the SHA-1 thumbprint of its certificate is one of the
provider's thumbprints (IAM's ``ThumbprintList``, for self-signed and private CAs). Plain HTTP is
accepted for loopback hosts only (a provider on the same machine, in tests). Key sets are kept for
ten minutes; an unknown key id refetches at most every 30 seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["JwksCache", "ProviderError", "jwks_cache"]

TIMEOUT: Final = 5.0
MAX_BYTES: Final = 1 << 20
FRESH: Final = 600.0
REFETCH_AFTER: Final = 30.0


class ProviderError(Exception):
    """The provider could not be reached or answered with something unusable."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connection(url: str, thumbprints: Sequence[str], verify: bool) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "http":
        if not _is_loopback(host):
            raise ProviderError(f"{url}: only HTTPS is allowed (plain HTTP for loopback hosts only)")
        return http.client.HTTPConnection(host, parts.port or 80, timeout=TIMEOUT)
    if parts.scheme != "https":
        raise ProviderError(f"{url}: not an HTTPS URL")
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return http.client.HTTPSConnection(host, parts.port or 443, timeout=TIMEOUT, context=context)


def _get(url: str, thumbprints: Sequence[str]) -> Any:
    try:
        return _request(url, thumbprints, verify=True)
    except ssl.SSLCertVerificationError:
        if not thumbprints:
            raise ProviderError(f"{url}: the server's certificate is not trusted") from None
        return _request(url, thumbprints, verify=False)


def _request(url: str, thumbprints: Sequence[str], verify: bool) -> Any:
    parts = urlsplit(url)
    connection = _connection(url, thumbprints, verify)
    try:
        connection.connect()
        if not verify:
            sock = connection.sock
            der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
            wanted = {t.lower() for t in thumbprints}
            if der is None or hashlib.sha1(der).hexdigest() not in wanted:
                raise ProviderError(
                    f"{url}: the server's certificate matches none of the provider's thumbprints"
                )
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection.request("GET", target, headers={"Accept": "application/json", "User-Agent": "iamd-sts"})
        answer = connection.getresponse()
        body = answer.read(MAX_BYTES + 1)
        if answer.status != 200:
            raise ProviderError(f"{url}: HTTP {answer.status}")
        if len(body) > MAX_BYTES:
            raise ProviderError(f"{url}: the answer is larger than {MAX_BYTES} bytes")
        return json.loads(body)
    except ssl.SSLCertVerificationError:
        raise
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
        raise ProviderError(f"{url}: {exc}") from exc
    finally:
        connection.close()


@dataclass
class _Entry:
    keys: dict[str, Any]
    fetched: float


class JwksCache:
    """Key sets by issuer; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def clear(self) -> None:
        """Forget every key set (``iamd serve --test-mode``'s reset)."""
        with self._lock:
            self._entries.clear()

    def key_set(self, issuer: str, thumbprints: Sequence[str], *, kid: str | None) -> dict[str, Any]:
        """The issuer's JWKS, fetched again when old, or when ``kid`` is not in it (rate-limited)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(issuer)
        if entry is not None:
            fresh = now - entry.fetched < FRESH
            known = kid is None or any(k.get("kid") == kid for k in entry.keys.get("keys", []))
            if fresh and (known or now - entry.fetched < REFETCH_AFTER):
                return entry.keys
        keys = self._fetch(issuer, thumbprints)
        with self._lock:
            self._entries[issuer] = _Entry(keys, now)
        return keys

    def forget(self, issuer: str) -> None:
        with self._lock:
            self._entries.pop(issuer, None)

    @staticmethod
    def _fetch(issuer: str, thumbprints: Sequence[str]) -> dict[str, Any]:
        configuration = _get(issuer.rstrip("/") + "/.well-known/openid-configuration", thumbprints)
        if not isinstance(configuration, dict) or not isinstance(configuration.get("jwks_uri"), str):
            raise ProviderError(f"{issuer}: the OpenID configuration names no jwks_uri")
        keys = _get(configuration["jwks_uri"], thumbprints)
        if not isinstance(keys, dict) or not isinstance(keys.get("keys"), list):
            raise ProviderError(f"{configuration['jwks_uri']}: not a JSON Web Key Set")
        return keys


jwks_cache = JwksCache()
