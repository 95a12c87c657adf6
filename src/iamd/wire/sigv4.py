"""Verify AWS Signature Version 4 on an incoming request, with no web framework and no clock.

Two steps, so a server can route and find the key between them::

    signed = parse_signature(request)             # MissingAuthenticationToken / IncompleteSignature
    scope = signed.scope                          # access key id, date, region, service
    identity = verifier.verify(request, lookup, now=clock(), signed=signed)

Both forms are accepted: the ``Authorization`` header, and the presigned query string
(``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
``X-Amz-SignedHeaders``, ``X-Amz-Signature``, ``X-Amz-Security-Token``).

The canonical request follows AWS's "Create a canonical request for Signature Version 4":

- the URI is the raw path with dot segments and empty segments removed, URI-encoded once more
  (so each segment ends up encoded twice), except for S3, which signs the path as sent;
- query parameters are decoded, re-encoded with RFC 3986 unreserved characters kept, and sorted
  by name then value (``X-Amz-Signature`` left out);
- header values are trimmed with inner runs of spaces folded, repeated headers joined with ``,``;
- the payload hash is ``x-amz-content-sha256`` when sent (``UNSIGNED-PAYLOAD``, or the body's
  SHA-256, which is then checked), else the SHA-256 of the body.

Time: a request's date must be within ``max_skew`` (15 minutes) of ``now``, as AWS requires, or
the answer is ``SignatureDoesNotMatch``: "Signature expired: <date> is now earlier than ...". A
presigned request may be older, up to its ``X-Amz-Expires`` (1 to 604800 seconds), after which it
is ``RequestExpired``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from threading import Lock
from urllib.parse import quote, unquote

from iamd.wire.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureDoesNotMatch,
)
from iamd.wire.http import HttpRequest

__all__ = [
    "ALGORITHM",
    "MAX_PRESIGNED_EXPIRES",
    "UNSIGNED_PAYLOAD",
    "CredentialScope",
    "SecretLookup",
    "SigV4Verifier",
    "SignedRequest",
    "SigningKeyCache",
    "VerifiedIdentity",
    "canonical_request",
    "check_scope",
    "check_scope_format",
    "derive_signing_key",
    "has_signature",
    "parse_signature",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_PRESIGNED_EXPIRES = 604800  # seven days
DEFAULT_MAX_SKEW = timedelta(minutes=15)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")

SecretLookup = Callable[[str, str | None], str | None]
"""``lookup(access_key_id, security_token)`` returns the secret access key, or ``None`` when the
key is unknown or inactive. It may raise an :class:`~iamd.wire.errors.AwsError` itself (e.g.
``ExpiredToken`` for a session token past its expiry)."""


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """``<access key id>/<date>/<region>/<service>/aws4_request``."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str = TERMINATOR

    @property
    def scope(self) -> str:
        """The scope as it appears in the string to sign (without the key id)."""
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The signature parameters a request carries, parsed but not yet verified."""

    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: str  # YYYYMMDD'T'HHMMSS'Z', as it enters the string to sign
    signed_at: datetime
    security_token: str | None = field(repr=False)
    presigned: bool
    expires: int | None  # X-Amz-Expires, presigned requests only

    @property
    def access_key_id(self) -> str:
        return self.scope.access_key_id


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """Who signed a request whose signature checked out."""

    access_key_id: str
    region: str
    service: str
    security_token: str | None = field(repr=False)  # a bearer secret: kept out of logs
    signed_at: datetime
    presigned: bool
    payload_signed: bool


# --- parsing -------------------------------------------------------------------------------------


def has_signature(request: HttpRequest) -> bool:
    """Whether the request carries any SigV4 signature at all (header or query string)."""
    return "authorization" in request.headers or _presign_params(request) is not None


def parse_signature(request: HttpRequest) -> SignedRequest:
    """The signature parameters of ``request``. Raises :class:`MissingAuthenticationToken` when
    there are none and :class:`IncompleteSignature` when they are malformed."""
    _refuse_repeats(request)
    query = _presign_params(request)
    header = request.headers.get("authorization")
    if header is not None and query is not None:
        raise IncompleteSignature(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified"
        )
    if header is not None:
        return _parse_header(request, header)
    if query is not None:
        return _parse_query(query)
    raise MissingAuthenticationToken()


_SINGLE_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
_SINGLE_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
)


def _refuse_repeats(request: HttpRequest) -> None:
    """A request that says twice who signed it, when, or with which token is ambiguous: which
    one counts would be up to the server (the first, the last, both joined by a comma). AWS
    answers ``IncompleteSignature`` to malformed signing parameters; so does iamd here."""
    for name in _SINGLE_HEADERS:
        if len(request.headers.get_all(name)) > 1:
            raise IncompleteSignature(
                f"The request carries the {name} header more than once; send exactly one."
            )
    counts: dict[str, int] = {}
    for key, _ in request.query_params:
        if key in _SINGLE_PARAMS:
            counts[key] = counts.get(key, 0) + 1
    repeated = sorted(k for k, n in counts.items() if n > 1)
    if repeated:
        raise IncompleteSignature(f"The query string carries {repeated[0]} more than once; send exactly one.")


def _presign_params(request: HttpRequest) -> dict[str, str] | None:
    params = dict(request.query_params)
    if any(k in params for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")):
        return params
    return None


def _parse_header(request: HttpRequest, header: str) -> SignedRequest:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'. Authorization={header}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    problems = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(name)
    ]
    amz_date = request.headers.get("x-amz-date")
    http_date = request.headers.get("date")
    if amz_date is None and http_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise IncompleteSignature(" ".join(problems) + f" Authorization={header}")
    if amz_date is not None:
        signed_at, amz = _parse_amz_date(amz_date)
    else:
        signed_at, amz = _parse_http_date(http_date or "")
    return SignedRequest(
        scope=_parse_credential(fields["Credential"]),
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=fields["Signature"],
        amz_date=amz,
        signed_at=signed_at,
        security_token=request.headers.get("x-amz-security-token"),
        presigned=False,
        expires=None,
    )


def _parse_query(params: dict[str, str]) -> SignedRequest:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
    missing = [name for name in required if not params.get(name)]
    if missing:
        text = " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
        raise IncompleteSignature(f"{text} Re-examine the query-string parameters.")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'")
    expires: int | None = None
    if "X-Amz-Expires" in params:
        text = params["X-Amz-Expires"]
        if not _ASCII_DIGITS.fullmatch(text):  # "１２" is digits to str.isdigit, not to AWS
            raise IncompleteSignature(f"X-Amz-Expires should be a number; got '{text}'")
        expires = int(text)
        if expires < 1:
            raise IncompleteSignature("X-Amz-Expires must be at least 1 second")
        if expires > MAX_PRESIGNED_EXPIRES:
            raise IncompleteSignature(
                f"X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_EXPIRES}"
            )
    signed_at, amz = _parse_amz_date(params["X-Amz-Date"])
    return SignedRequest(
        scope=_parse_credential(params["X-Amz-Credential"]),
        signed_headers=_parse_signed_headers(params["X-Amz-SignedHeaders"]),
        signature=params["X-Amz-Signature"],
        amz_date=amz,
        signed_at=signed_at,
        security_token=params.get("X-Amz-Security-Token"),
        presigned=True,
        expires=expires,
    )


def _parse_credential(text: str) -> CredentialScope:
    parts = text.split("/")
    if len(parts) < 5 or not all(parts[-4:]) or not "/".join(parts[:-4]):
        raise IncompleteSignature(
            f"Credential should be of the form '<access key id>/<date>/<region>/<service>/aws4_request', "
            f"not '{text}'."
        )
    key_id = "/".join(parts[:-4])
    date, region, service, terminator = parts[-4:]
    return CredentialScope(key_id, date, region, service, terminator)


def _parse_signed_headers(text: str) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in text.split(";") if name.strip())
    if "host" not in names:
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return names


def _parse_amz_date(text: str) -> tuple[datetime, str]:
    try:
        if not _AMZ_DATE.fullmatch(text):  # strptime would take any Unicode digit
            raise ValueError(text)
        # The fields by position (ASCII digits, checked above): strptime's own parse cost a
        # tenth of a request's time. datetime() still refuses a month 13 or a February 30.
        when = datetime(
            int(text[0:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[9:11]),
            int(text[11:13]),
            int(text[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None
    return when, text


def _parse_http_date(text: str) -> tuple[datetime, str]:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise IncompleteSignature(f"Date must be an HTTP date. Got '{text}'.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return when, when.strftime(_AMZ_DATE_FORMAT)


def check_scope(signed: SignedRequest, *, service: str, regions: frozenset[str] | None = None) -> None:
    """Raise ``SignatureDoesNotMatch`` unless the credential scope names ``service`` (the signing
    name of the service the request was routed to) and, when given, one of ``regions``."""
    if signed.scope.service != service:
        raise SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{service}'. ")
    if regions is not None and signed.scope.region not in regions:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped to a valid region, not '{signed.scope.region}'. "
        )


def check_scope_format(signed: SignedRequest) -> None:
    """The scope must end in ``aws4_request`` and carry the request's own date."""
    if signed.scope.terminator != TERMINATOR:
        raise SignatureDoesNotMatch(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{signed.scope.terminator}'."
        )
    if signed.scope.date != signed.amz_date[:8]:
        raise SignatureDoesNotMatch(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.scope.date}' != '{signed.amz_date[:8]}', from '{signed.amz_date}'."
        )


# --- the canonical request -----------------------------------------------------------------------


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def _canonical_uri(raw_path: str, service: str) -> str:
    if service == "s3":
        return raw_path or "/"
    return quote(_remove_dot_segments(raw_path or "/"), safe="/~")


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and output else ""
    return lead + "/".join(output) + trail


def _canonical_query(raw_query: str, *, presigned: bool) -> str:
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        encoded_key = _uri_encode(unquote(key))
        if presigned and encoded_key == "X-Amz-Signature":
            continue
        pairs.append((encoded_key, _uri_encode(unquote(value))))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _canonical_headers(request: HttpRequest, names: tuple[str, ...]) -> str:
    lines = []
    for name in sorted(set(names)):
        values = request.headers.get_all(name)
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(lines)


def _payload_hash(request: HttpRequest, signed: SignedRequest, allow_unsigned: bool) -> tuple[str, bool]:
    claimed = request.headers.get("x-amz-content-sha256")
    if claimed is None and signed.presigned and signed.scope.service == "s3":
        claimed = UNSIGNED_PAYLOAD
    if claimed is None:
        return hashlib.sha256(request.body).hexdigest(), True
    if claimed == UNSIGNED_PAYLOAD:
        if not allow_unsigned:
            raise SignatureDoesNotMatch("UNSIGNED-PAYLOAD is not accepted by this service.")
        return claimed, False
    if not _HEX_SHA256.fullmatch(claimed):
        raise IncompleteSignature(
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the payload, "
            f"not '{claimed}'"
        )
    actual = hashlib.sha256(request.body).hexdigest()
    if not hmac.compare_digest(actual, claimed):
        raise SignatureDoesNotMatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    return claimed, True


def canonical_request(request: HttpRequest, signed: SignedRequest, payload_hash: str) -> str:
    """The canonical request AWS would compute for ``request`` (useful in logs)."""
    return "\n".join(
        [
            request.method.upper(),
            _canonical_uri(request.path, signed.scope.service),
            _canonical_query(request.query_string, presigned=signed.presigned),
            _canonical_headers(request, signed.signed_headers),
            ";".join(signed.signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(signed: SignedRequest, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{signed.amz_date}\n{signed.scope.scope}\n{digest}"


def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """``kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


class SigningKeyCache:
    """A bounded LRU of derived signing keys per (secret, date, region, service): the four HMACs
    are skipped for every request after a key's first of the day."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str, str, str], bytes] = OrderedDict()
        self._lock = Lock()

    def get(self, secret: str, date: str, region: str, service: str) -> bytes:
        cache_key = (secret, date, region, service)
        with self._lock:
            key = self._entries.get(cache_key)
            if key is not None:
                self._entries.move_to_end(cache_key)
                return key
        key = derive_signing_key(secret, date, region, service)
        with self._lock:
            self._entries[cache_key] = key
            self._entries.move_to_end(cache_key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return key

    def __len__(self) -> int:
        return len(self._entries)


# --- verification --------------------------------------------------------------------------------


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)


class SigV4Verifier:
    """Checks signatures; holds the signing-key cache. ``now`` is always passed in."""

    def __init__(
        self,
        *,
        max_skew: timedelta = DEFAULT_MAX_SKEW,
        key_cache_size: int = 1024,
        allow_unsigned_payload: bool = True,
    ) -> None:
        self.max_skew = max_skew
        self.allow_unsigned_payload = allow_unsigned_payload
        self.keys = SigningKeyCache(key_cache_size)

    def verify(
        self,
        request: HttpRequest,
        lookup: SecretLookup,
        *,
        now: datetime,
        signed: SignedRequest | None = None,
    ) -> VerifiedIdentity:
        """Verify ``request``: parse (unless ``signed`` is given), check the scope and the time,
        look the secret up, compare signatures. Raises the AWS error for any failure."""
        if signed is None:
            signed = parse_signature(request)
        check_scope_format(signed)
        self.check_time(signed, now)
        secret = lookup(signed.access_key_id, signed.security_token)
        if secret is None:
            raise InvalidClientTokenId()
        return self.verify_with_secret(request, signed, secret)

    def check_time(self, signed: SignedRequest, now: datetime) -> None:
        """The request must not be from the future (beyond the skew) nor too old (the skew, or a
        presigned request's X-Amz-Expires)."""
        now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        minutes = int(self.max_skew.total_seconds() // 60)
        if signed.signed_at > now + self.max_skew:
            raise SignatureDoesNotMatch(
                f"Signature not yet current: {signed.amz_date} is still later than "
                f"{_fmt(now + self.max_skew)} ({_fmt(now)} + {minutes} min.)"
            )
        if signed.presigned and signed.expires is not None:
            if now > signed.signed_at + timedelta(seconds=signed.expires):
                raise RequestExpired()
            return
        if signed.signed_at < now - self.max_skew:
            raise SignatureDoesNotMatch(
                f"Signature expired: {signed.amz_date} is now earlier than "
                f"{_fmt(now - self.max_skew)} ({_fmt(now)} - {minutes} min.)"
            )

    def verify_with_secret(
        self, request: HttpRequest, signed: SignedRequest, secret: str
    ) -> VerifiedIdentity:
        """Compare the signature against the one ``secret`` gives (no time checks)."""
        payload_hash, payload_signed = _payload_hash(request, signed, self.allow_unsigned_payload)
        canonical = canonical_request(request, signed, payload_hash)
        to_sign = string_to_sign(signed, canonical)
        key = self.keys.get(secret, signed.scope.date, signed.scope.region, signed.scope.service)
        expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), signed.signature.encode("utf-8", "replace")):
            error = SignatureDoesNotMatch()
            error.debug = f"CanonicalRequest:\n{canonical}\nStringToSign:\n{to_sign}"
            raise error
        return VerifiedIdentity(
            access_key_id=signed.access_key_id,
            region=signed.scope.region,
            service=signed.scope.service,
            security_token=signed.security_token,
            signed_at=signed.signed_at,
            presigned=signed.presigned,
            payload_signed=payload_signed,
        )
