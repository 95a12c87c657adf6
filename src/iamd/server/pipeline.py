"""The request pipeline (ARCHITECTURE.md): route, verify the signature, find the caller, decode,
run the operation in one transaction with its authorization, encode the answer or the error."""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore import __version__ as botocore_version
from botocore.model import ServiceModel

import iamd.services.accessanalyzer  # (registers the Access Analyzer operations)
import iamd.services.cloudtrail as _cloudtrail  # (registers LookupEvents; records the trail)
import iamd.services.iam  # noqa: F401  (registers the IAM operations)
import iamd.services.organizations as _organizations  # noqa: F401  (registers Organizations)
import iamd.services.rolesanywhere.sessions as _rolesanywhere_sessions  # (registers Roles Anywhere)
import iamd.services.sts as _sts  # noqa: F401  (registers the STS operations)
from iamd.authz import Principal
from iamd.clock import Clock
from iamd.secrets.ids import IdSource
from iamd.server.authorizer import Authorizer
from iamd.server.caller import caller_for_key
from iamd.services.framework import (
    DEFAULT_BUDGET_SECONDS,
    Budget,
    Caller,
    OperationContext,
    RequestInfo,
    handler_for,
    input_error,
    store_errors_as_aws,
)
from iamd.store import errors as store_errors
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AwsError,
    HttpRequest,
    HttpResponse,
    InternalFailure,
    InvalidClientTokenId,
    OperationRef,
    Protocol,
    ServiceCatalog,
    SignedRequest,
    SigV4Verifier,
    UnsupportedOperation,
    ValidationError,
    check_scope,
    has_signature,
    parse_signature,
    protocol_for,
    requires_auth,
)
from iamd.wire.regions import partition_regions, signing_regions
from iamd.wire.sigv4 import check_scope_format
from iamd.wire.unrouted import encode_unrouted_error

__all__ = ["Pipeline", "encode_error"]

log = logging.getLogger("iamd.server")

_LAST_USED_EVERY = timedelta(seconds=60)
_LAST_USED_MARKS = 10_000
"""Past this many (key, service, region) marks, those older than ``_LAST_USED_EVERY`` go."""


@dataclass(frozen=True, slots=True)
class _KeyEntry:
    secret: str
    caller: Caller
    generation: int


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


def _forget_frames(error: BaseException) -> None:
    """Drop the tracebacks of ``error`` and of the exceptions it came from. The trail keeps the
    error until its event is stored; through its traceback it kept every frame it passed, with
    the request and its body, in a reference cycle that only the cyclic collector's rare full
    collections free: 400 bodies of 1-9 MiB refused for a bad signature left 600 MiB resident."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__


_ANONYMOUS = Caller(
    principal=Principal.anonymous(), account_id="", principal_type="Anonymous", unique_id="anonymous", arn="*"
)


def encode_error(protocol: Protocol, service: ServiceModel, error: AwsError, request_id: str) -> HttpResponse:
    """``error`` in the protocol's envelope. The encoders write any text safely; should one fail
    anyway, the same error goes out with an ASCII-only message and no extra fields, never as
    a bare 500 from the web framework."""
    try:
        return protocol.encode_error(service, error, request_id)
    except Exception:
        log.exception("could not encode %r (request %s); sending it plainly", error, request_id)
    plain = AwsError(
        error.message.encode("ascii", "backslashreplace").decode("ascii"),
        code=error.code,
        json_code=error.wire_json_code,
        status=error.status,
        sender_fault=error.sender_fault,
    )
    return protocol.encode_error(service, plain, request_id)


@dataclass(frozen=True, slots=True)
class Routed:
    signed: SignedRequest | None
    error: AwsError | None
    """A malformed signature, or (with ``ref`` None) an unknown operation."""
    ref: OperationRef | None
    readonly: bool
    waits: bool = False
    """The operation may wait on the network (e.g. for an OpenID Connect provider's keys)."""
    heavy: bool = False
    """The operation's cost grows with its input or the account's size (``Registration.heavy``)."""


@dataclass(frozen=True, slots=True)
class Connection:
    source_ip: str
    secure: bool


class Pipeline:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        ids: IdSource,
        authorizer: Authorizer,
        catalog: ServiceCatalog | None = None,
        trail: _cloudtrail.Recorder | None = None,
        public_url: str | None = None,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    ) -> None:
        """``trail``: where every request is recorded (None: no trail, ``iamd serve --no-trail``).
        ``public_url``: where clients reach this iamd (default: each request's scheme and Host).
        ``budget_seconds``: how long an operation may loop over what its caller asked for
        (``iamd serve --request-budget``)."""
        self.store = store
        self.budget_seconds = budget_seconds
        self.public_url = public_url.rstrip("/") if public_url else None
        self.clock = clock
        self.ids = ids
        self.authorizer = authorizer
        self.trail = trail
        self.catalog = catalog or ServiceCatalog()
        self.verifier = SigV4Verifier()
        self._keys = _LruCache(4096)
        # Operations whose writers have lost a race (PostgreSQL): they queue for their account
        # from then on (see _run). Bounded by the number of operations iamd serves.
        self._contended: set[tuple[str, str]] = set()
        self._last_used: dict[tuple[str, str, str], datetime] = {}
        self._last_used_lock = threading.Lock()
        self.on_reset: list[Callable[[], None]] = []
        """What else to forget on a test-mode reset (the console's sign-in throttle)."""

    def forget_caches(self) -> None:
        """Drop every in-process cache: verified keys, last-use marks, compiled policies, sessions'
        entities and policies, OpenID Connect key sets, and what ``on_reset`` names. Other nodes
        see a reset through the accounts' generation counters instead."""
        from iamd.server.sessions import resolver_for
        from iamd.services.policies import shared_cache
        from iamd.services.sts.oidc import jwks_cache

        self._keys.clear()
        with self._last_used_lock:
            self._last_used.clear()
        shared_cache().clear()
        resolver_for(self.store).clear()
        jwks_cache.clear()
        for hook in self.on_reset:
            hook()

    def base_url(self, request: HttpRequest, connection: Connection) -> str:
        """Where clients reach this iamd: ``--public-url``, else the request's scheme and Host."""
        if self.public_url:
            return self.public_url
        host = request.headers.get("host") or "127.0.0.1"
        return f"{'https' if connection.secure else 'http'}://{host}"

    def route(self, request: HttpRequest) -> Routed:
        """Which operation ``request`` is for, and its signature's parts (nothing verified yet)."""
        if _rolesanywhere_sessions.is_x509_session(request):
            return self._route_x509(request)
        signed: SignedRequest | None = None
        auth_error: AwsError | None = None
        if has_signature(request):
            try:
                signed = parse_signature(request)
            except AwsError as error:
                auth_error = error
        try:
            ref = self.catalog.resolve(request, signing_service=signed.scope.service if signed else None)
        except AwsError as error:
            return Routed(signed, error, None, True)
        registration = handler_for(ref.service_name, ref.name)
        return Routed(
            signed,
            auth_error,
            ref,
            registration is None or registration.readonly,
            registration is not None and registration.waits,
            registration is not None and registration.heavy,
        )

    def known_signer(self, head: HttpRequest) -> str | None:
        """The signing service of ``head`` (a request's headers, before its body is read) when its
        signature has the right shape, a current date, and an access key that exists and is active
        (or a session token that opens): such a caller may send a body up to its service's cap
        (:mod:`iamd.server.limits`). None otherwise. Nothing is verified that needs the body."""
        if not has_signature(head):
            return None
        now = self.clock.now()
        try:
            signed = parse_signature(head)
            check_scope_format(signed)
            self.verifier.check_time(signed, now)
            key_id = signed.scope.access_key_id
            if key_id.startswith("ASIA"):
                from iamd.server.sessions import resolver_for

                resolver_for(self.store).open(signed.security_token, key_id, now)
            elif self._keys.get(key_id) is None:

                def active(uow: UnitOfWork) -> bool:
                    signing = uow.access_keys.signing_key(key_id)
                    return signing is not None and signing.key.status == "Active"

                if not self.store.run(active, readonly=True):
                    return None
        except AwsError:
            return None
        return signed.scope.service

    def refuse(self, head: HttpRequest, error: AwsError) -> HttpResponse:
        """``error`` in the envelope of the service ``head`` is for, as far as its headers tell
        (the credential scope's service, X-Amz-Target, the REST route; IAM's otherwise)."""
        signing: str | None = None
        try:
            signing = parse_signature(head).scope.service if has_signature(head) else None
        except AwsError:
            signing = None
        model = self.catalog.service("iam")
        try:
            model = self.catalog.resolve(head, signing_service=signing).service_model
        except AwsError:
            names = self.catalog.services_for_signing_name(signing) if signing else []
            if names:
                model = self.catalog.service(names[0])
        return protocol_for(model).encode_error(model, error, str(uuid.uuid4()))

    def handle(
        self, request: HttpRequest, connection: Connection, routed: Routed | None = None
    ) -> HttpResponse:
        """Answer ``request``. ``routed``: ``route(request)``, when the caller already has it (the
        app routes first, to run reads on its event loop and writes on worker threads)."""
        request_id = str(uuid.uuid4())
        now = self.clock.now()
        routed = routed or self.route(request)
        signed, auth_error, ref = routed.signed, routed.error, routed.ref
        if ref is None:
            # Signed for a service iamd does not serve, or no operation at all: answered in the
            # protocol the client reads (iamd.wire.unrouted); nothing ran, nothing to record.
            assert auth_error is not None
            return encode_unrouted_error(auth_error, request, request_id, self.catalog.service("iam"))
        protocol = protocol_for(ref.service_model)
        info = RequestInfo(
            request_id=request_id,
            service=ref.service_name,
            operation=ref.name,
            # Unsigned calls (AssumeRoleWithWebIdentity, AssumeRoleWithSAML) name no region.
            # (A region that does not exist is refused below; the trail names the endpoint's.)
            region=signed.scope.region
            if signed is not None and signed.scope.region in partition_regions()
            else "us-east-1",
            source_ip=connection.source_ip,
            user_agent=request.headers.get("user-agent") or "",
            secure_transport=connection.secure,
            received_at=now,
            base_url=self.base_url(request, connection),
        )
        # The trail records every request once its outcome is known (a successful write inside
        # its own transaction); recording never changes the answer.
        observed = _cloudtrail.Observed()
        try:
            if auth_error is not None:
                raise auth_error
            if signed is None:
                if requires_auth(ref.operation_model):
                    parse_signature(request)  # raises MissingAuthenticationToken
            else:
                check_scope(
                    signed,
                    service=ref.service_model.signing_name,
                    regions=signing_regions(ref.service_model.endpoint_prefix),
                )
            if self.trail is not None:
                self.trail.before(ref)
            output = self._run(ref, request, signed, info, now, observed)
            response = protocol.encode_response(ref.operation_model, output, request_id)
        except AwsError as error:
            _forget_frames(error)
            if self.trail is not None:
                self.trail.failed(ref, info, request, signed, observed, error)
            return encode_error(protocol, ref.service_model, error, request_id)
        except Exception:
            log.exception("internal error in %s:%s (request %s)", ref.service_name, ref.name, request_id)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            if self.trail is not None:
                self.trail.failed(ref, info, request, signed, observed, failure)
            return encode_error(protocol, ref.service_model, failure, request_id)
        if self.trail is not None:
            self.trail.completed(ref, info, observed, output)
        return response

    def _run(
        self,
        ref: OperationRef,
        request: HttpRequest,
        signed: SignedRequest | None,
        info: RequestInfo,
        now: datetime,
        observed: _cloudtrail.Observed | None = None,
    ) -> dict[str, object] | None:
        registration = handler_for(ref.service_name, ref.name)
        protocol = protocol_for(ref.service_model)

        def work(uow: UnitOfWork) -> tuple[dict[str, object] | None, Caller]:
            if _rolesanywhere_sessions.is_session_operation(ref):
                return self._x509_session(uow, request, info, now)
            generations: dict[str, int]
            if signed is None:
                # Only operations that authenticate by their own parameters get here unsigned.
                caller, generations = _ANONYMOUS, {}
            else:
                caller, generations = self._authenticate(uow, request, signed, now)
                authenticated.append(caller)
            if observed is not None:
                observed.caller, observed.recorded = caller, False
            if not ref.known:
                # A newer SDK's operation: the caller is known (so the trail names them), the
                # parameters are not (no input shape to read them by).
                raise UnsupportedOperation(
                    f"{ref.name} is not supported by iamd: it is not an operation of "
                    f"{ref.service_model.metadata.get('serviceId', ref.service_name)} in the service "
                    f"model iamd serves (botocore {botocore_version}); scripts/update-botocore "
                    "updates the models"
                )
            try:
                params = protocol.decode_request(ref, request)
            except ValidationError as refused:
                raise input_error(ref.service_name, refused) from refused
            if observed is not None:
                observed.params = params
            if registration is None:
                raise UnsupportedOperation(f"{ref.name} is not supported by iamd")
            ctx = OperationContext(
                uow=uow,
                caller=caller,
                info=info,
                ids=self.ids,
                now=now,
                budget=Budget(self.budget_seconds),
                authorize_with=lambda action, resource, context=None, *, resource_account=None: (
                    self.authorizer.decide(
                        uow,
                        caller,
                        info,
                        now,
                        action,
                        resource,
                        context,
                        resource_account=resource_account,
                        generations=generations,
                    )
                ),
            )
            with store_errors_as_aws():
                output = registration.handler(ctx, params)
            if not ctx.authorized:
                raise RuntimeError(f"{ref.service_name}:{ref.name} answered without authorizing")
            if observed is not None and self.trail is not None and not readonly:
                self.trail.in_transaction(uow, ref, info, observed, output)
            return output, caller

        # CreateSession has no registration; it writes (the subject it records).
        session = _rolesanywhere_sessions.is_session_operation(ref)
        readonly = registration.readonly if registration is not None else not session
        authenticated: list[Caller] = []

        operation_key = (ref.service_name, ref.name)

        def queue() -> str | None:
            # Writers that bump an account's generation conflict on its row: under SERIALIZABLE
            # all but one of a set of overlapping writers would fail and retry, again and again
            # at a few clients. Those of an operation that has lost such a race queue for the
            # account on PostgreSQL instead (see Store.transaction); the others (a write that
            # changes nothing, AssumeRole) run side by side, without the lock's round trips. The
            # account is the caller's: known from a first attempt (this is a retry) or from the
            # signing key seen before. Only a hint: a wrong or missing one costs a retry, never
            # correctness.
            if readonly or self.store.backend != "postgresql":
                return None
            if authenticated:  # the first attempt lost a race
                self._contended.add(operation_key)
                return authenticated[-1].account_id
            if operation_key in self._contended and signed is not None:
                entry = self._keys.get(signed.scope.access_key_id)
                if entry is not None:
                    return entry.caller.account_id
            return None

        try:
            output, caller = self.store.run(work, readonly=readonly, account_id=queue)
        except Exception:
            # The key signed this request even if it was then denied or failed: AWS records the
            # use of a key for every request it authenticated (GetAccessKeyLastUsed, the
            # credential report), and a key used only for denied calls is what people look for.
            if authenticated:
                self._note_key_use(authenticated[-1], info, now)
            raise
        if observed is not None:
            observed.caller = caller
        self._note_key_use(caller, info, now)
        return output

    def _route_x509(self, request: HttpRequest) -> Routed:
        """IAM Roles Anywhere's CreateSession (``POST /sessions`` signed with an X.509 certificate:
        ``AWS4-X509-RSA-SHA256`` / ``AWS4-X509-ECDSA-SHA256``): not in botocore's model, and not
        signed with an access key; ``_x509_session`` authenticates it."""
        return Routed(None, None, _rolesanywhere_sessions.session_operation(), False)  # it writes

    def _x509_session(
        self, uow: UnitOfWork, request: HttpRequest, info: RequestInfo, now: datetime
    ) -> tuple[dict[str, object] | None, Caller]:
        """Verify the certificate chain and the request's X.509 signature, then issue the role
        session (:func:`iamd.services.rolesanywhere.sessions.create_session`)."""
        ctx = _rolesanywhere_sessions.session_context(uow, info, self.ids, now)
        output, caller = _rolesanywhere_sessions.create_session(ctx, request, self.verifier)
        return dict(output), caller

    def _authenticate(
        self, uow: UnitOfWork, request: HttpRequest, signed: SignedRequest, now: datetime
    ) -> tuple[Caller, dict[str, int]]:
        """Verify the signature and return the caller, reading the database only when the key's
        account has changed since the key was last seen (its generation counter moved)."""
        key_id = signed.scope.access_key_id
        if key_id.startswith("ASIA"):
            # Session credentials: the sealed token is the session (iamd.server.sessions).
            from iamd.server.sessions import resolver_for

            resolver = resolver_for(self.store)
            opened = []

            def open_session(requested: str, token: str | None) -> str | None:
                session = resolver.open(token, requested, now, service=signed.scope.service)
                opened.append(session)
                return session.secret_access_key

            self.verifier.verify(request, open_session, now=now, signed=signed)
            return resolver.caller(uow, opened[0], now)
        entry = self._keys.get(key_id)
        if entry is not None:
            generations = uow.accounts.generations([entry.caller.account_id, AWS_ACCOUNT])
            if generations.get(entry.caller.account_id) != entry.generation:
                entry = None
        if entry is None:
            signing = uow.access_keys.signing_key(key_id)
            if signing is None or signing.key.status != "Active":
                raise InvalidClientTokenId("The security token included in the request is invalid.")
            caller = caller_for_key(uow, signing.key)
            generations = uow.accounts.generations([caller.account_id, AWS_ACCOUNT])
            entry = _KeyEntry(signing.secret_access_key, caller, generations.get(caller.account_id, 0))
            self._keys.put(key_id, entry)
        secret = entry.secret

        def lookup(requested: str, token: str | None) -> str | None:
            return secret if requested == key_id else None

        self.verifier.verify(request, lookup, now=now, signed=signed)
        return entry.caller, generations

    def _note_key_use(self, caller: Caller, info: RequestInfo, now: datetime) -> None:
        """Record an access key's last use (date, service, region), at most once a minute per key
        and service, in its own small transaction."""
        if caller.access_key_id is None or caller.access_key_id.startswith("ASIA"):
            return
        mark = (caller.access_key_id, info.service, info.region)
        with self._last_used_lock:
            last = self._last_used.get(mark)
            if last is not None and now - last < _LAST_USED_EVERY:
                return
            self._last_used[mark] = now
            if len(self._last_used) > _LAST_USED_MARKS:
                # Marks older than a minute hold nothing back any more: forget them.
                self._last_used = {k: v for k, v in self._last_used.items() if now - v < _LAST_USED_EVERY}
        key_id = caller.access_key_id

        def record(uow: UnitOfWork) -> None:
            uow.access_keys.record_use(key_id, now, info.service, info.region)

        try:
            self.store.run(record)
        except store_errors.StoreError:
            log.warning("could not record the last use of access key %s", key_id)
