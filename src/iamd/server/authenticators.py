"""How a request proves who sends it: one authenticator per scheme.

The pipeline asks :meth:`Authenticators.credentials` which scheme a request's credentials belong
to (nothing verified yet: the parts that routing needs, such as the SigV4 credential scope), then,
inside the operation's transaction, that scheme's :meth:`Authenticator.authenticate` returns the
``Caller`` or raises AWS's error. The schemes, in the order a request is matched against them:

- **X.509 signature** (IAM Roles Anywhere's ``CreateSession``, ``AWS4-X509-RSA-SHA256`` /
  ``AWS4-X509-ECDSA-SHA256``): the certificate chain to the named trust anchor and the signature
  by the certificate's key (:mod:`iamd.services.rolesanywhere.sessions`). The scheme routes the
  request itself: the operation is not in botocore's model.
- **SigV4 with a session token** (``ASIA…`` key ids): the sealed token is the session
  (:mod:`iamd.server.sessions`), no database read but the account's generation counter.
- **SigV4 with an access key** (``AKIA…``): the key's secret from the store, cached per key and
  invalidated by the account's shared generation counter and its user's own
  (:meth:`iamd.store.accounts.Accounts.generations`).
- **Bearer token** (the access portal's ``sso`` API, header ``x-amz-sso_bearer_token``): a service
  registers how its tokens open (:func:`iamd.services.bearer.register_bearer`).
- **Unsigned**: only operations the model marks as unauthenticated (``authtype: none`` /
  ``smithy.api#noAuth``: STS's AssumeRoleWithWebIdentity and AssumeRoleWithSAML, ``sso-oidc``) run
  unsigned, as the anonymous caller; any other operation answers MissingAuthenticationToken.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from iamd.authz import Principal
from iamd.server.caller import caller_for_key
from iamd.services.bearer import opener_for
from iamd.services.framework import Caller
from iamd.services.rolesanywhere import sessions as x509_sessions
from iamd.store.accounts import ScopedKind
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AwsError,
    HttpRequest,
    InvalidClientTokenId,
    OperationRef,
    SignedRequest,
    SigV4Verifier,
    check_scope,
    has_signature,
    parse_signature,
    requires_auth,
)
from iamd.wire.regions import partition_regions, signing_regions
from iamd.wire.sigv4 import check_scope_format

__all__ = [
    "ANONYMOUS",
    "Authenticated",
    "Authenticator",
    "Authenticators",
    "Credentials",
]

BEARER_HEADER = "x-amz-sso_bearer_token"

ANONYMOUS = Caller(
    principal=Principal.anonymous(), account_id="", principal_type="Anonymous", unique_id="anonymous", arn="*"
)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """Who sent a request, and the generation counters read to find out (the authorizer's
    cache keys on them)."""

    caller: Caller
    generations: dict[str, int] = field(default_factory=dict)
    access_key: bool = False
    """The caller signed with a long-term access key (its last use is recorded)."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a request presents, unverified: its scheme, the SigV4 parts when it has them, and
    the error to answer when they are malformed (raised when the request is authenticated, after
    routing, so that the error goes out in the envelope of the service the request is for)."""

    scheme: Authenticator
    signed: SignedRequest | None = None
    error: AwsError | None = None
    region: str | None = None
    """The region the credentials are scoped to, when it is one of the partition's."""

    @property
    def sigv4(self) -> SignedRequest | None:
        """The SigV4 signature's parts, when the request is signed with an access key or a session."""
        return self.signed if self.scheme.routes_by_scope else None

    @property
    def signing_service(self) -> str | None:
        """The service the SigV4 credential scope names (narrows routing)."""
        return self.sigv4.scope.service if self.sigv4 is not None else None

    def authenticate(
        self, uow: UnitOfWork, request: HttpRequest, ref: OperationRef, now: datetime
    ) -> Authenticated:
        if self.error is not None:
            raise self.error
        return self.scheme.authenticate(uow, request, self, ref, now)


class Authenticator(ABC):
    """One way of proving who sends a request."""

    routes_by_scope: bool = True
    """Whether the credential scope's service narrows routing (SigV4)."""

    @abstractmethod
    def present(self, request: HttpRequest) -> Credentials | None:
        """The request's credentials when they are of this scheme, else None."""

    @abstractmethod
    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        """The caller, or AWS's error."""

    def route(self, request: HttpRequest) -> OperationRef | None:
        """The operation, when this scheme decides it (None: the catalog routes)."""
        return None

    def known_signer(self, head: HttpRequest, credentials: Credentials, now: datetime) -> str | None:
        """The signing service when ``head``'s credentials are those of a known principal, as far
        as the headers alone tell (the body limit: :mod:`iamd.server.limits`); None otherwise."""
        return None

    def forget(self) -> None:
        """Drop what this scheme caches (a test-mode reset)."""
        return None


class X509Signature(Authenticator):
    """IAM Roles Anywhere's CreateSession, signed with an X.509 certificate's key."""

    routes_by_scope = False

    def __init__(self, verifier: SigV4Verifier) -> None:
        self.verifier = verifier

    def present(self, request: HttpRequest) -> Credentials | None:
        if not x509_sessions.is_x509_session(request):
            return None
        try:
            _, signed = x509_sessions.certificate_credentials(request)
        except AwsError as error:
            return Credentials(self, error=error)
        return Credentials(self, signed=signed, region=signed.scope.region)

    def route(self, request: HttpRequest) -> OperationRef | None:
        return x509_sessions.session_operation()

    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        return Authenticated(x509_sessions.authenticate_certificate(uow, request, self.verifier, now))


def _sigv4_credentials(scheme: Authenticator, request: HttpRequest) -> Credentials:
    try:
        signed = parse_signature(request)
    except AwsError as error:
        return Credentials(scheme, error=error)
    region = signed.scope.region if signed.scope.region in partition_regions() else None
    return Credentials(scheme, signed=signed, region=region)


def _check_scope(signed: SignedRequest, ref: OperationRef) -> None:
    check_scope(
        signed,
        service=ref.service_model.signing_name,
        regions=signing_regions(ref.service_model.endpoint_prefix),
    )


class SessionToken(Authenticator):
    """SigV4 by session credentials (``ASIA…`` and a sealed ``X-Amz-Security-Token``)."""

    def __init__(self, store: Store, verifier: SigV4Verifier, access_keys: Authenticator) -> None:
        """``access_keys``: the scheme of SigV4 requests signed with any other key."""
        self.store = store
        self.verifier = verifier
        self.access_keys = access_keys

    def present(self, request: HttpRequest) -> Credentials | None:
        if not has_signature(request):
            return None
        credentials = _sigv4_credentials(self, request)
        if credentials.signed is None or not credentials.signed.scope.access_key_id.startswith("ASIA"):
            # The access key scheme's (a malformed signature is refused as its), parsed once.
            # (Made directly: ``dataclasses.replace`` works out the fields on every call.)
            return Credentials(self.access_keys, credentials.signed, credentials.error, credentials.region)
        return credentials

    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        from iamd.server.sessions import resolver_for

        signed = credentials.signed
        assert signed is not None
        _check_scope(signed, ref)
        resolver = resolver_for(self.store)
        opened = []

        def open_session(requested: str, token: str | None) -> str | None:
            session = resolver.open(token, requested, now, service=signed.scope.service)
            opened.append(session)
            return session.secret_access_key

        self.verifier.verify(request, open_session, now=now, signed=signed)
        caller, generations = resolver.caller(uow, opened[0], now)
        return Authenticated(caller, generations)

    def known_signer(self, head: HttpRequest, credentials: Credentials, now: datetime) -> str | None:
        from iamd.server.sessions import resolver_for

        signed = credentials.signed
        assert signed is not None
        resolver_for(self.store).open(signed.security_token, signed.scope.access_key_id, now)
        return signed.scope.service


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    secret: str
    caller: Caller
    generation: int
    """The account's shared generation when the key was read."""
    principal_generation: int | None
    """Its user's own generation then (None for the root user's keys)."""


def _key_generations(uow: UnitOfWork, caller: Caller) -> dict[str, int]:
    """The generations a key's entry holds, of ``caller`` (its account's and "aws"'s shared ones,
    its user's own): those the authorizer's cache keys on too."""
    principal: tuple[ScopedKind, str] | None = None if caller.user_id is None else ("user", caller.user_id)
    return uow.accounts.generations([caller.account_id, AWS_ACCOUNT], principal)


class _LruCache:
    """A small thread-safe LRU map (access key id -> verified key and caller)."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, _KeyEntry] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> _KeyEntry | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: str, value: _KeyEntry) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class AccessKey(Authenticator):
    """SigV4 by a long-term access key (an IAM user's or the root user's)."""

    def __init__(self, store: Store, verifier: SigV4Verifier) -> None:
        self.store = store
        self.verifier = verifier
        self._keys = _LruCache(4096)
        self.misses = 0
        """Keys read from the store (not found in the cache, or found stale): for tests."""

    def forget(self) -> None:
        self._keys.clear()

    def cached_account(self, access_key_id: str) -> str | None:
        entry = self._keys.get(access_key_id)
        return entry.caller.account_id if entry is not None else None

    def present(self, request: HttpRequest) -> Credentials | None:
        return _sigv4_credentials(self, request) if has_signature(request) else None

    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        """Verify the signature and return the caller, reading the database only when the key's
        account or its user has changed since the key was last seen (the account's shared
        generation or the user's own moved: a write to another user leaves the entry valid)."""
        signed = credentials.signed
        assert signed is not None
        _check_scope(signed, ref)
        key_id = signed.scope.access_key_id
        entry = self._keys.get(key_id)
        generations: dict[str, int] = {}
        if entry is not None:
            generations = _key_generations(uow, entry.caller)
            if generations.get(entry.caller.account_id) != entry.generation or (
                entry.caller.user_id is not None
                and generations.get(entry.caller.user_id) != entry.principal_generation
            ):
                entry = None
        if entry is None:
            signing = uow.access_keys.signing_key(key_id)
            if signing is None or signing.key.status != "Active":
                raise InvalidClientTokenId("The security token included in the request is invalid.")
            caller = caller_for_key(uow, signing.key)
            generations = _key_generations(uow, caller)
            entry = _KeyEntry(
                signing.secret_access_key,
                caller,
                generations.get(caller.account_id, 0),
                None if caller.user_id is None else generations.get(caller.user_id),
            )
            self._keys.put(key_id, entry)
            self.misses += 1
        secret = entry.secret

        def lookup(requested: str, token: str | None) -> str | None:
            return secret if requested == key_id else None

        self.verifier.verify(request, lookup, now=now, signed=signed)
        return Authenticated(entry.caller, generations, access_key=True)

    def known_signer(self, head: HttpRequest, credentials: Credentials, now: datetime) -> str | None:
        signed = credentials.signed
        assert signed is not None
        key_id = signed.scope.access_key_id
        if self._keys.get(key_id) is None:

            def active(uow: UnitOfWork) -> bool:
                signing = uow.access_keys.signing_key(key_id)
                return signing is not None and signing.key.status == "Active"

            if not self.store.run(active, readonly=True):
                return None
        return signed.scope.service


class BearerToken(Authenticator):
    """A bearer token in ``x-amz-sso_bearer_token`` (the access portal's ``sso`` API)."""

    routes_by_scope = False

    def present(self, request: HttpRequest) -> Credentials | None:
        if request.headers.get(BEARER_HEADER) is None or has_signature(request):
            return None
        return Credentials(self)

    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        opener = opener_for(ref.service_name)
        if opener is None:
            return _unsigned(request, ref)
        return Authenticated(opener(uow, request.headers.get(BEARER_HEADER) or "", ref, now))


def _unsigned(request: HttpRequest, ref: OperationRef) -> Authenticated:
    if requires_auth(ref.operation_model):
        parse_signature(request)  # raises MissingAuthenticationToken
    return Authenticated(ANONYMOUS)


class Unsigned(Authenticator):
    """No credentials: the anonymous caller, for operations the model serves unauthenticated."""

    routes_by_scope = False

    def present(self, request: HttpRequest) -> Credentials | None:
        return Credentials(self)

    def authenticate(
        self,
        uow: UnitOfWork,
        request: HttpRequest,
        credentials: Credentials,
        ref: OperationRef,
        now: datetime,
    ) -> Authenticated:
        return _unsigned(request, ref)


class Authenticators:
    """The schemes a pipeline accepts, tried in order."""

    def __init__(self, store: Store, verifier: SigV4Verifier) -> None:
        self.verifier = verifier
        access_keys = AccessKey(store, verifier)
        self.schemes: tuple[Authenticator, ...] = (
            X509Signature(verifier),
            SessionToken(store, verifier, access_keys),
            access_keys,
            BearerToken(),
            Unsigned(),
        )

    def cached_account(self, access_key_id: str) -> str | None:
        """The account of a long-term key verified before (from the access-key cache), or None:
        a hint for queueing writers, never an authentication."""
        for scheme in self.schemes:
            if isinstance(scheme, AccessKey):
                return scheme.cached_account(access_key_id)
        return None

    def credentials(self, request: HttpRequest) -> Credentials:
        """The scheme of ``request``'s credentials and their unverified parts."""
        for scheme in self.schemes:
            found = scheme.present(request)
            if found is not None:
                return found
        raise AssertionError("Unsigned accepts every request")

    def known_signer(self, head: HttpRequest, now: datetime) -> str | None:
        """See :meth:`Authenticator.known_signer`: the time and the scope's format are checked
        first, for every SigV4 scheme."""
        credentials = self.credentials(head)
        signed = credentials.sigv4
        if signed is None or credentials.error is not None:
            return None
        try:
            check_scope_format(signed)
            self.verifier.check_time(signed, now)
            return credentials.scheme.known_signer(head, credentials, now)
        except AwsError:
            return None

    def forget(self) -> None:
        for scheme in self.schemes:
            scheme.forget()
