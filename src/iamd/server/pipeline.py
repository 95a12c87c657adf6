"""The request pipeline (ARCHITECTURE.md): route, authenticate (one authenticator per scheme of
credentials, :mod:`iamd.server.authenticators`), decode, run the operation in one transaction with
its authorization, encode the answer or the error."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from botocore import __version__ as botocore_version
from botocore.model import ServiceModel

import iamd.services.accessanalyzer  # (registers the Access Analyzer operations)
import iamd.services.cloudtrail as _cloudtrail  # (registers LookupEvents; records the trail)
import iamd.services.iam
import iamd.services.identitycenter as _identitycenter  # noqa: F401  (registers sso-admin)
import iamd.services.identitycenter.identitystore
import iamd.services.identitycenter.oidc  # (registers sso-oidc)
import iamd.services.identitycenter.portal  # (registers the access portal API, sso)
import iamd.services.organizations as _organizations  # noqa: F401  (registers Organizations)
import iamd.services.rolesanywhere  # noqa: F401  (registers Roles Anywhere)
import iamd.services.sts as _sts  # noqa: F401  (registers the STS operations)
from iamd.clock import Clock
from iamd.secrets.entropy import uuid4
from iamd.secrets.ids import IdSource
from iamd.server.authenticators import Authenticated, Authenticators, Credentials
from iamd.server.authorizer import Authorizer
from iamd.server.contention import Contention
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
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.wire import (
    AwsError,
    HttpRequest,
    HttpResponse,
    InternalFailure,
    OperationRef,
    Protocol,
    ServiceCatalog,
    SigV4Verifier,
    UnsupportedOperation,
    ValidationError,
    protocol_for,
)
from iamd.wire.models import protocol_name
from iamd.wire.unrouted import encode_unrouted_error

__all__ = ["Pipeline", "encode_error"]

log = logging.getLogger("iamd.server")

_LAST_USED_EVERY = timedelta(seconds=60)
_LAST_USED_MARKS = 10_000
"""Past this many (key, service, region) marks, those older than ``_LAST_USED_EVERY`` go."""


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
    credentials: Credentials
    """The request's credentials and their scheme (verified by ``authenticate``)."""
    error: AwsError | None
    """With ``ref`` None: an unknown operation, or a service iamd does not serve."""
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
        self.authenticators = Authenticators(store, self.verifier)
        # Operations whose writers have lost a race lately (PostgreSQL): they queue for their
        # account for a while (see _run and iamd.server.contention).
        self._contended = Contention()
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

        self.authenticators.forget()
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
        """Which operation ``request`` is for, and its credentials' scheme and parts (nothing
        verified yet): the scheme may route the request itself (Roles Anywhere's CreateSession),
        and a SigV4 credential scope narrows the services to look in."""
        credentials = self.authenticators.credentials(request)
        try:
            ref = credentials.scheme.route(request) or self.catalog.resolve(
                request, signing_service=credentials.signing_service
            )
        except AwsError as error:
            return Routed(credentials, error, None, True)
        registration = handler_for(ref.service_name, ref.name)
        if registration is None:
            return Routed(credentials, None, ref, True)
        readonly = registration.readonly
        if not readonly and registration.reads_without is not None:
            # A write that writes only when the request carries this parameter (an MFA code):
            # without it, a read. The form's names are those the decoder reads the parameter
            # by (percent-decoded); other protocols keep the write.
            readonly = (
                protocol_name(ref.service_model) == "query"
                and registration.reads_without not in request.form_params
            )
        return Routed(credentials, None, ref, readonly, registration.waits, registration.heavy)

    def known_signer(self, head: HttpRequest) -> str | None:
        """The signing service of ``head`` (a request's headers, before its body is read) when its
        signature has the right shape, a current date, and an access key that exists and is active
        (or a session token that opens): such a caller may send a body up to its service's cap
        (:mod:`iamd.server.limits`). None otherwise. Nothing is verified that needs the body."""
        return self.authenticators.known_signer(head, self.clock.now())

    def refuse(self, head: HttpRequest, error: AwsError) -> HttpResponse:
        """``error`` in the envelope of the service ``head`` is for, as far as its headers tell
        (the credential scope's service, X-Amz-Target, the REST route; IAM's otherwise)."""
        signing = self.authenticators.credentials(head).signing_service
        model = self.catalog.service("iam")
        try:
            model = self.catalog.resolve(head, signing_service=signing).service_model
        except AwsError:
            names = self.catalog.services_for_signing_name(signing) if signing else []
            if names:
                model = self.catalog.service(names[0])
        return protocol_for(model).encode_error(model, error, uuid4())

    def handle(
        self, request: HttpRequest, connection: Connection, routed: Routed | None = None
    ) -> HttpResponse:
        """Answer ``request``. ``routed``: ``route(request)``, when the caller already has it (the
        app routes first, to run reads on its event loop and writes on worker threads)."""
        request_id = uuid4()
        now = self.clock.now()
        routed = routed or self.route(request)
        credentials, ref = routed.credentials, routed.ref
        if ref is None:
            # Signed for a service iamd does not serve, or no operation at all: answered in the
            # protocol the client reads (iamd.wire.unrouted); nothing ran, nothing to record.
            assert routed.error is not None
            return encode_unrouted_error(routed.error, request, request_id, self.catalog.service("iam"))
        protocol = protocol_for(ref.service_model)
        info = RequestInfo(
            request_id=request_id,
            service=ref.service_name,
            operation=ref.name,
            # Unsigned calls (AssumeRoleWithWebIdentity, AssumeRoleWithSAML) name no region.
            # (A region that does not exist is refused below; the trail names the endpoint's.)
            region=credentials.region or "us-east-1",
            source_ip=connection.source_ip,
            user_agent=request.headers.get("user-agent") or "",
            secure_transport=connection.secure,
            received_at=now,
            base_url=self.base_url(request, connection),
        )
        # The trail records every request once its outcome is known (a successful write inside
        # its own transaction); recording never changes the answer.
        observed = _cloudtrail.Observed()
        signed = credentials.sigv4  # who a request that fails authentication claims to be (trail)
        try:
            if self.trail is not None:
                self.trail.before(ref)
            output = self._run(ref, request, credentials, info, now, observed, readonly=routed.readonly)
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
        credentials: Credentials,
        info: RequestInfo,
        now: datetime,
        observed: _cloudtrail.Observed | None = None,
        *,
        readonly: bool,
    ) -> dict[str, object] | None:
        """``readonly``: ``Routed.readonly`` (a write that writes nothing for this request may
        run as a read: ``Registration.reads_without``)."""
        registration = handler_for(ref.service_name, ref.name)
        protocol = protocol_for(ref.service_model)

        # Reading ahead saves a round trip to PostgreSQL; on SQLite there is none to save.
        prefetch = registration.prefetch if registration is not None and ref.known else None
        if prefetch is not None and (
            self.store.backend != "postgresql" or protocol_name(ref.service_model) != "query"
        ):
            prefetch = None
        signer = credentials.sigv4
        hint = (
            self.authenticators.cached_account(signer.scope.access_key_id)
            if prefetch is not None and signer is not None
            else None
        )

        def work(uow: UnitOfWork) -> tuple[dict[str, object] | None, Caller]:
            if prefetch is not None:  # (read ahead with the caller's key, in its round trip)
                prefetch(uow, request.form_params, hint)
            who: Authenticated = credentials.authenticate(uow, request, ref, now)
            caller, generations = who.caller, who.generations
            if who.access_key:
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
            # The operation may name its caller more precisely once it knows it (the subject
            # that Roles Anywhere's CreateSession recorded).
            caller = ctx.caller
            if observed is not None:
                observed.caller = caller
            if observed is not None and self.trail is not None and not readonly:
                self.trail.in_transaction(uow, ref, info, observed, output)
            # this attempt's outcome for the queue (the last attempt is the one that commits)
            queued_for_nothing[:] = [uow.contended and not uow.changed_anything]
            return output, caller

        authenticated: list[Caller] = []
        queued_for_nothing: list[bool] = []

        operation_key = (ref.service_name, ref.name)

        def queue() -> str | None:
            # Writers that bump an account's generation conflict on its row: under SERIALIZABLE
            # all but one of a set of overlapping writers would fail and retry, again and again
            # at a few clients. Those of an operation that has lost such a race lately queue for
            # the account on PostgreSQL instead (see Store.transaction, iamd.server.contention);
            # the others (a write that changes nothing, AssumeRole) run side by side, without
            # the lock's round trips. The account is the caller's: known from a first attempt
            # (this is a retry) or from the signing key seen before. Only a hint: a wrong or
            # missing one costs a retry, never correctness.
            if readonly or self.store.backend != "postgresql":
                return None
            if authenticated:  # the first attempt lost a race
                self._contended.lost_race(operation_key)
                return authenticated[-1].account_id
            signed = credentials.sigv4
            if signed is not None and self._contended.queues(operation_key):
                return self.authenticators.cached_account(signed.scope.access_key_id)
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
        if queued_for_nothing and queued_for_nothing[0]:
            # It queued and committed without changing anything: its replays need no queue.
            self._contended.changed_nothing(operation_key)
        if observed is not None:
            observed.caller = caller
        self._note_key_use(caller, info, now)
        return output

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
