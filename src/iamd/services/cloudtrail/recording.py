"""From requests to trail events: what the pipeline (and the console) tell the trail.

The pipeline calls, per request:

- :meth:`Recorder.before` (before the operation runs): LookupEvents and last-accessed jobs first
  wait for the writer, so a caller reads its own earlier calls;
- :meth:`Recorder.in_transaction` (inside a successful write's transaction): the event commits
  with the change;
- :meth:`Recorder.completed` / :meth:`Recorder.failed` once the outcome is known: the event goes
  to the writer's queue (reads, errors, denials, failed authentication).

None of them raises: a trail problem is logged and the request's answer stands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from iamd.secrets.entropy import uuid4
from iamd.services.framework import Caller, RequestInfo
from iamd.services.sts.tokens import FEDERATED, ROLE, ROOT, Session, unseal_session
from iamd.store.audit import AuditEvent
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.trail.records import (
    Identity,
    SessionIssuer,
    api_call_record,
    record_json,
    sign_in_record,
    trail_elements,
)
from iamd.trail.writer import TrailWriter
from iamd.wire import (
    AccessDenied,
    AuthenticationError,
    AwsError,
    HttpRequest,
    InvalidAction,
    OperationRef,
    SerializationError,
    SignedRequest,
    UnsupportedOperation,
    ValidationError,
)
from iamd.wire.base import find_error_shape

__all__ = ["Observed", "Recorder", "identity_for", "identity_for_session", "is_read_only"]

log = logging.getLogger("iamd.trail")

GLOBAL_SERVICES: Final = frozenset({"iam", "organizations"})
"""Recorded in us-east-1 whatever the endpoint, as AWS records them."""
_READ_PREFIXES: Final = (
    "Get",
    "List",
    "Describe",
    "Lookup",
    "Simulate",
    "Generate",
    "Decode",
    "Search",
    "Check",
    "Validate",
    "Preview",
)
_ASSUME: Final = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot"})
RESPONSE_WHEN_READ_ONLY: Final = frozenset(
    {("sts", name) for name in (*_ASSUME, "GetSessionToken", "GetFederationToken")}
    | {("rolesanywhere", "CreateSession")}
)
"""Read-only calls whose records still carry responseElements (the credentials, secret hidden)."""
READS_THE_TRAIL: Final = frozenset(
    {
        ("cloudtrail", "LookupEvents"),
        ("iam", "GenerateServiceLastAccessedDetails"),
        ("iam", "GenerateOrganizationsAccessReport"),
    }
    # Access Analyzer's unused-access findings and policy generation read last-accessed data and
    # the trail: what was called just before must be in them.
    | {
        ("accessanalyzer", name)
        for name in (
            "StartPolicyGeneration",
            "ListFindings",
            "ListFindingsV2",
            "GetFinding",
            "GetFindingV2",
            "GetFindingsStatistics",
            "UpdateFindings",
            "ApplyArchiveRule",
            "GenerateFindingRecommendation",
        )
    }
)
_NOT_AN_ACCESS: Final = (
    AccessDenied,
    AuthenticationError,
    ValidationError,
    SerializationError,
    UnsupportedOperation,
    InvalidAction,
)
_RESOURCE_PARAMS: Final = {
    "UserName": "AWS::IAM::User",
    "NewUserName": "AWS::IAM::User",
    "GroupName": "AWS::IAM::Group",
    "NewGroupName": "AWS::IAM::Group",
    "RoleName": "AWS::IAM::Role",
    "RoleArn": "AWS::IAM::Role",
    "PolicyArn": "AWS::IAM::Policy",
    "PermissionsBoundary": "AWS::IAM::Policy",
    "AccessKeyId": "AWS::IAM::AccessKey",
    "InstanceProfileName": "AWS::IAM::InstanceProfile",
    "OpenIDConnectProviderArn": "AWS::IAM::OIDCProvider",
    "SAMLProviderArn": "AWS::IAM::SAMLProvider",
    "ServerCertificateName": "AWS::IAM::ServerCertificate",
    "SerialNumber": "AWS::IAM::MFADevice",
}
_RESOURCE_OUTPUTS: Final = {
    ("AccessKey", "AccessKeyId"): "AWS::IAM::AccessKey",
    ("Credentials", "AccessKeyId"): "AWS::IAM::AccessKey",
    ("AssumedRoleUser", "Arn"): "AWS::STS::AssumedRole",
    ("FederatedUser", "Arn"): "AWS::STS::FederatedUser",
    ("Policy", "Arn"): "AWS::IAM::Policy",
    ("Role", "Arn"): "AWS::IAM::Role",
    ("User", "UserName"): "AWS::IAM::User",
    ("Group", "GroupName"): "AWS::IAM::Group",
}


def is_read_only(service: str, operation: str) -> bool:
    """CloudTrail's ``readOnly``: the call changes nothing (AssumeRole* included, as in AWS)."""
    return operation.startswith(_READ_PREFIXES) or operation in _ASSUME


_SOURCES: dict[str, str] = {}


def event_source(ref: OperationRef) -> str:
    """``iam.amazonaws.com``, ``sts.amazonaws.com``, ``access-analyzer.amazonaws.com`` …"""
    found = _SOURCES.get(ref.service_name)
    if found is None:
        found = _SOURCES[ref.service_name] = f"{ref.service_model.endpoint_prefix}.amazonaws.com"
    return found


@dataclass(slots=True)
class Observed:
    """What the pipeline learns while it runs a request, for the trail."""

    caller: Caller | None = None
    params: dict[str, Any] | None = None
    recorded: bool = False


# -- identities ----------------------------------------------------------------------------------


def _name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def identity_for_session(session: Session) -> Identity:
    """``userIdentity`` for a request signed with session credentials."""
    created = datetime.fromtimestamp(session.issued_at, UTC)
    common: dict[str, Any] = {
        "account_id": session.account_id,
        "access_key_id": session.access_key_id,
        "session": True,
        "session_created": created,
        "mfa_authenticated": session.mfa,
        "source_identity": session.source_identity,
    }
    if session.kind == ROLE:
        role_arn = session.role_arn
        web: dict[str, Any] = {}
        if session.federated_provider is not None and ":oidc-provider/" in session.federated_provider:
            web = {"federatedProvider": session.federated_provider, "attributes": {}}
        return Identity(
            "AssumedRole",
            principal_id=session.unique_id,
            arn=session.arn,
            issuer=SessionIssuer(
                "Role", str(session.role_id), role_arn, session.account_id, _name_of(role_arn)
            ),
            web_identity=web,
            entity_id=session.role_id,
            entity_arn=role_arn,
            lookup_name=session.session_name,
            **common,
        )
    if session.kind == FEDERATED:
        issuer = None
        if session.user_id is not None and session.user_arn is not None:
            issuer = SessionIssuer(
                "IAMUser", session.user_id, session.user_arn, session.account_id, str(session.user_name)
            )
        else:
            root = f"arn:aws:iam::{session.account_id}:root"
            issuer = SessionIssuer("Root", session.account_id, root, session.account_id, "root")
        return Identity(
            "FederatedUser",
            principal_id=session.unique_id,
            arn=session.arn,
            issuer=issuer,
            entity_id=session.user_id,
            entity_arn=session.user_arn,
            lookup_name=session.session_name,
            **common,
        )
    if session.kind == ROOT:
        return Identity(
            "Root",
            principal_id=session.account_id,
            arn=session.arn,
            lookup_name="root",
            **common,
        )
    return Identity(
        "IAMUser",
        principal_id=session.user_id,
        arn=session.arn,
        user_name=session.user_name,
        entity_id=session.user_id,
        entity_arn=session.arn,
        lookup_name=session.user_name,
        **common,
    )


def identity_for(caller: Caller) -> Identity:
    """``userIdentity`` for an authenticated caller."""
    session = getattr(caller, "session", None)
    if isinstance(session, Session):
        return identity_for_session(session)
    if caller.principal_type == "User":
        return Identity(
            "IAMUser",
            principal_id=caller.user_id or caller.unique_id,
            arn=caller.arn,
            account_id=caller.account_id,
            access_key_id=caller.access_key_id,
            user_name=caller.user_name,
            session=caller.session_issued_at is not None,
            session_created=caller.session_issued_at,
            mfa_authenticated=bool(caller.mfa_authenticated),
            entity_id=caller.user_id,
            entity_arn=caller.arn,
            lookup_name=caller.user_name,
        )
    if caller.principal_type == "Account":
        return Identity(
            "Root",
            principal_id=caller.account_id,
            arn=f"arn:aws:iam::{caller.account_id}:root",
            account_id=caller.account_id,
            access_key_id=caller.access_key_id,
            session=caller.session_issued_at is not None,
            session_created=caller.session_issued_at,
            mfa_authenticated=bool(caller.mfa_authenticated),
            lookup_name="root",
        )
    if caller.principal_type == "AssumedRole":
        role_arn = caller.arn
        return Identity(
            "AssumedRole",
            principal_id=caller.unique_id,
            arn=caller.principal.arn,
            account_id=caller.account_id,
            access_key_id=caller.access_key_id,
            session=True,
            session_created=caller.session_issued_at,
            mfa_authenticated=bool(caller.mfa_authenticated),
            issuer=SessionIssuer(
                "Role", str(caller.role_id), role_arn, caller.account_id, _name_of(role_arn)
            ),
            web_identity={},
            source_identity=caller.source_identity,
            entity_id=caller.role_id,
            entity_arn=role_arn,
            lookup_name=_name_of(caller.principal.arn),
        )
    if caller.principal_type == "FederatedUser":
        return Identity(
            "FederatedUser",
            principal_id=caller.unique_id,
            arn=caller.arn,
            account_id=caller.account_id,
            access_key_id=caller.access_key_id,
            session=True,
            session_created=caller.session_issued_at,
            mfa_authenticated=bool(caller.mfa_authenticated),
            lookup_name=_name_of(caller.arn),
        )
    if caller.principal_type == "IdentityCenterUser":
        portal_session = getattr(caller, "portal_session", None)
        store_id = getattr(portal_session, "store_id", None)
        return identity_center_user(
            account_id=caller.account_id,
            user_id=str(caller.user_id or caller.unique_id),
            user_name=caller.user_name,
            store_id=store_id,
            credential_id=getattr(portal_session, "id", None),
        )
    return Identity("Unknown")


def identity_center_user(
    *,
    account_id: str,
    user_id: str,
    user_name: str | None,
    store_id: str | None,
    credential_id: str | None,
) -> Identity:
    """``userIdentity`` of a person of an identity store (the access portal's API and sign-ins),
    as CloudTrail records it for IAM Identity Center: type ``IdentityCenterUser``, the account,
    ``onBehalfOf`` (the user's id and identity store ARN) and the ``credentialId`` of the portal
    session. LookupEvents' Username is the person's user name."""
    on_behalf: dict[str, str] = {"userId": user_id}
    if store_id:
        on_behalf["identityStoreArn"] = f"arn:aws:identitystore::{account_id}:identitystore/{store_id}"
    extra: dict[str, Any] = {"onBehalfOf": on_behalf}
    if credential_id:
        extra["credentialId"] = credential_id
    return Identity("IdentityCenterUser", account_id=account_id, lookup_name=user_name, extra=extra)


def _anonymous_identity(ref: OperationRef, params: Mapping[str, Any] | None, output: Any) -> Identity:
    """Who calls AssumeRoleWithWebIdentity / AssumeRoleWithSAML (unsigned): the federated user."""
    params = params or {}
    out = output if isinstance(output, Mapping) else {}
    if ref.name == "AssumeRoleWithWebIdentity":
        provider = str(out.get("Provider") or params.get("ProviderId") or "")
        subject = str(out.get("SubjectFromWebIdentityToken") or "")
        audience = str(out.get("Audience") or "")
        return Identity(
            "WebIdentityUser",
            principal_id=f"{provider}:{audience}:{subject}" if subject else None,
            user_name=subject or None,
            identity_provider=provider or None,
            lookup_name=subject or None,
        )
    if ref.name == "AssumeRoleWithSAML":
        subject = str(out.get("Subject") or "")
        issuer = str(out.get("Issuer") or "")
        return Identity(
            "SAMLUser",
            principal_id=str(out.get("NameQualifier") or "") + (f":{subject}" if subject else "") or None,
            user_name=subject or None,
            identity_provider=str(params.get("PrincipalArn") or issuer) or None,
            lookup_name=subject or None,
        )
    return Identity("Unknown")


# -- the recorder -------------------------------------------------------------------------------


def error_code(ref: OperationRef, error: AwsError) -> str:
    """errorCode as CloudTrail writes it: ``AccessDenied`` and authentication failures by their
    code, modeled errors by their exception name (``NoSuchEntityException``)."""
    if isinstance(error, AccessDenied | AuthenticationError) or error.code == "AccessDenied":
        return error.code
    return find_error_shape(ref.service_model, error, json_names=True).code


def _resources(params: Mapping[str, Any] | None, output: Any) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    if params:
        for name, value in params.items():
            kind = _RESOURCE_PARAMS.get(name)
            if kind is not None and type(value) is str and value:
                found.append((kind, value))
    if type(output) is dict:
        for (outer, inner), kind in _RESOURCE_OUTPUTS.items():
            value = output.get(outer)
            if type(value) is dict and type(value.get(inner)) is str:
                found.append((kind, value[inner]))
    unique: list[tuple[str, str]] = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return tuple(unique)


def _account_of(arn: object) -> str | None:
    if not isinstance(arn, str):
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


class Recorder:
    """Turns request outcomes into events for a :class:`TrailWriter`. Thread-safe."""

    def __init__(self, writer: TrailWriter, store: Store) -> None:
        self.writer = writer
        self.store = store
        self._default_account: str | None = None
        self._lock = threading.Lock()

    # -- pipeline hooks -------------------------------------------------------------------------

    def before(self, ref: OperationRef) -> None:
        if (ref.service_name, ref.name) in READS_THE_TRAIL:
            self.writer.flush()

    def in_transaction(
        self, uow: UnitOfWork, ref: OperationRef, info: RequestInfo, observed: Observed, output: Any
    ) -> None:
        """Add the events of a successful write to its transaction. (A synchronous writer stores
        them in a transaction of their own instead, once the write committed.)

        A write that changed nothing (a tag, a policy or an attachment sent again) has nothing for
        its events to commit with: they go to the writer as a read's do, stored in its next batch,
        and the write's transaction commits without writing: on SQLite, where writers take turns,
        its turn is then a read's, not a commit's; on PostgreSQL its COMMIT waits for no flush of
        the log, and its two inserts are not sent."""
        if self.writer.synchronous or uow.wrote_nothing():
            return
        try:
            events = self.events(ref, info, observed.caller, observed.params, output, None)
        except Exception:
            log.exception("trail: could not build the event of %s:%s", ref.service_name, ref.name)
            return
        observed.recorded = uow.audit.try_add_events(events)

    def completed(self, ref: OperationRef, info: RequestInfo, observed: Observed, output: Any) -> None:
        if observed.recorded:
            self.writer.notify()
            return
        self._submit(ref, info, observed.caller, observed.params, output, None)

    def failed(
        self,
        ref: OperationRef,
        info: RequestInfo,
        request: HttpRequest,
        signed: SignedRequest | None,
        observed: Observed,
        error: AwsError,
    ) -> None:
        if observed.caller is not None:
            self._submit(ref, info, observed.caller, observed.params, None, error)
            return
        if signed is None:
            return  # unsigned and unauthenticated: nobody to attribute it to
        key_id = signed.scope.access_key_id
        token = request.headers.get("x-amz-security-token")
        params = observed.params

        def build() -> list[AuditEvent]:
            try:
                identity = self.claimed_identity(key_id, token)
            except Exception:
                log.exception("trail: could not resolve access key %s", key_id)
                identity = Identity("Unknown", access_key_id=key_id)
            try:
                return self.events(ref, info, None, params, None, error, identity)
            except Exception:
                log.exception(
                    "trail: could not record %s:%s (request %s)", ref.service_name, ref.name, info.request_id
                )
                return self.incomplete_events(ref, info, error, identity)

        self.writer.submit_later(build)

    # -- console hooks --------------------------------------------------------------------------

    def console_call(
        self,
        ref: OperationRef,
        info: RequestInfo,
        caller: Caller | None,
        params: Mapping[str, Any] | None,
        output: Any,
        error: AwsError | None,
    ) -> None:
        """A console action run as an IAM operation (the console's runner calls this)."""
        self._submit(ref, info, caller, dict(params) if params is not None else None, output, error)

    def sign_in(
        self,
        *,
        account_id: str,
        at: datetime,
        source_ip: str,
        user_agent: str,
        success: bool,
        user_id: str | None = None,
        user_name: str | None = None,
        user_arn: str | None = None,
        root: bool = False,
        mfa_used: bool = False,
        login_to: str = "",
        error_message: str = "Failed authentication",
    ) -> None:
        """A console sign-in (``ConsoleLogin``, ``AwsConsoleSignIn``) by the root user (``root``)
        or an IAM user: ``user_id`` None for a name that is no user (AWS records
        ``HIDDEN_DUE_TO_SECURITY_REASONS`` as its name)."""
        if not root:
            identity = Identity(
                "IAMUser",
                principal_id=user_id,
                arn=user_arn,
                account_id=account_id,
                user_name=user_name,
                lookup_name=user_name,
            )
        else:
            identity = Identity(
                "Root",
                principal_id=account_id,
                arn=f"arn:aws:iam::{account_id}:root",
                account_id=account_id,
                lookup_name="root",
            )
        event_id = uuid4()
        record = sign_in_record(
            identity=identity,
            event_time=at,
            source_ip=source_ip,
            user_agent=user_agent,
            event_id=event_id,
            recipient_account_id=account_id,
            success=success,
            mfa_used=mfa_used,
            login_to=login_to,
            error_message=error_message,
        )
        event = AuditEvent(
            event_id=event_id,
            account_id=account_id,
            event_time=at,
            event_name="ConsoleLogin",
            event_source="signin.amazonaws.com",
            username=identity.lookup_name,
            access_key_id=None,
            entity_id=None,
            entity_arn=None,
            service="signin",
            region="us-east-1",
            read_only=False,
            error_code=None if success else "Failed authentication",
            counts_as_access=False,
            record=record_json(record),
        )
        try:
            self.writer.submit([event])
        except Exception:
            log.exception("trail: could not queue a ConsoleLogin event: %s", event.record)

    # -- building events ------------------------------------------------------------------------

    def _submit(
        self,
        ref: OperationRef,
        info: RequestInfo,
        caller: Caller | None,
        params: dict[str, Any] | None,
        output: Any,
        error: AwsError | None,
        identity: Identity | None = None,
    ) -> None:

        def build() -> list[AuditEvent]:
            try:
                return self.events(ref, info, caller, params, output, error, identity)
            except Exception:
                log.exception(
                    "trail: could not record %s:%s (request %s)", ref.service_name, ref.name, info.request_id
                )
                who = identity or (identity_for(caller) if caller is not None else None)
                return self.incomplete_events(ref, info, error, who)

        try:
            self.writer.submit_later(build)
        except Exception:
            log.exception(
                "trail: could not queue %s:%s (request %s)", ref.service_name, ref.name, info.request_id
            )

    def events(
        self,
        ref: OperationRef,
        info: RequestInfo,
        caller: Caller | None,
        params: Mapping[str, Any] | None,
        output: Any,
        error: AwsError | None,
        identity: Identity | None = None,
    ) -> list[AuditEvent]:
        """The events of one request: one in the caller's account and, when a call reaches into
        another account (AssumeRole of another account's role), one in that account."""
        service, name = ref.service_name, ref.name
        anonymous = caller is not None and caller.principal_type == "Anonymous"
        if identity is None:
            identity = (
                _anonymous_identity(ref, params, output)
                if caller is None or anonymous
                else identity_for(caller)
            )
        region = "us-east-1" if service in GLOBAL_SERVICES else info.region
        read_only = is_read_only(service, name)
        operation = ref.operation_model
        request_parameters = trail_elements(operation.input_shape, params) if params else None
        response_elements = None
        if error is None and output and (not read_only or (service, name) in RESPONSE_WHEN_READ_ONLY):
            response_elements = trail_elements(operation.output_shape, output) or None
        code = message = None
        if error is not None:
            code, message = error_code(ref, error), error.message
        counts = (
            identity.entity_id is not None
            and identity.entity_arn is not None
            and (error is None or not (isinstance(error, _NOT_AN_ACCESS) or error.code == "AccessDenied"))
        )
        resources = _resources(params, output)
        home = identity.account_id or caller_account(caller)
        target = _account_of((params or {}).get("RoleArn")) if name in _ASSUME else None
        recipients: list[tuple[str, Identity, bool]] = []
        if home:
            recipients.append((home, identity, counts))
        if target and target != home:
            if home:
                outside = Identity(
                    "AWSAccount",
                    principal_id=identity.principal_id,
                    account_id=identity.account_id,
                    access_key_id=identity.access_key_id,
                    lookup_name=identity.lookup_name,
                )
                recipients.append((target, outside, False))
            else:
                recipients.append((target, identity, False))
        if not recipients:
            recipients.append((self.default_account(), identity, False))
        return [
            _event(
                ref,
                info,
                who,
                account,
                region,
                code,
                message,
                request_parameters=request_parameters,
                response_elements=response_elements,
                entity=identity if feeds else None,
                resources=resources,
            )
            for account, who, feeds in recipients
        ]

    def incomplete_events(
        self, ref: OperationRef, info: RequestInfo, error: AwsError | None, identity: Identity | None
    ) -> list[AuditEvent]:
        """The event of a request whose full record could not be built (the error log says why):
        who, what, when and the outcome, without parameters or response, marked as incomplete.
        An event that cannot be built at all must not vanish from the trail."""
        try:
            who = identity or Identity("Unknown")
            region = "us-east-1" if ref.service_name in GLOBAL_SERVICES else info.region
            code = error_code(ref, error) if error is not None else None
            message = error.message if error is not None else None
            note = {"iamdIncompleteRecord": "iamd could not build the full record of this request"}
            account = who.account_id or self.default_account()
            return [_event(ref, info, who, account, region, code, message, additional=note)]
        except Exception:
            log.exception("trail: event of request %s NOT STORED: not even its outline", info.request_id)
            return []

    # -- who signed a request that failed authentication -----------------------------------------

    def claimed_identity(self, access_key_id: str, token: str | None) -> Identity:
        """The identity an access key (and session token) claims, for a request whose
        authentication failed: the key's owner if the key exists, else Unknown."""
        if access_key_id.startswith("ASIA"):
            session = None
            if token and self.store.kek is not None:
                try:
                    session = unseal_session(self.store.kek, token)
                except Exception:
                    session = None
            if session is not None and session.access_key_id == access_key_id:
                found = identity_for_session(session)
                return Identity(
                    found.type,
                    principal_id=found.principal_id,
                    arn=found.arn,
                    account_id=found.account_id,
                    access_key_id=found.access_key_id,
                    user_name=found.user_name,
                    session=found.session,
                    session_created=found.session_created,
                    mfa_authenticated=found.mfa_authenticated,
                    issuer=found.issuer,
                    web_identity=found.web_identity,
                    lookup_name=found.lookup_name,
                )
            return Identity("Unknown", access_key_id=access_key_id)

        def read(uow: UnitOfWork) -> Identity:
            key = uow.access_keys.find(access_key_id)
            if key is None:
                return Identity("Unknown", access_key_id=access_key_id)
            if key.user_id is None:
                return Identity(
                    "Root",
                    principal_id=key.account_id,
                    arn=f"arn:aws:iam::{key.account_id}:root",
                    account_id=key.account_id,
                    access_key_id=access_key_id,
                    lookup_name="root",
                )
            user = uow.users.get_by_id(key.user_id)
            return Identity(
                "IAMUser",
                principal_id=user.id,
                arn=f"arn:aws:iam::{user.account_id}:user{user.path}{user.name}",
                account_id=user.account_id,
                access_key_id=access_key_id,
                user_name=user.name,
                lookup_name=user.name,
            )

        return self.store.run(read, readonly=True)

    def default_account(self) -> str:
        """Where events that name no account go: the first (management) account."""
        with self._lock:
            if self._default_account is not None:
                return self._default_account
        accounts = self.store.run(lambda uow: uow.accounts.list(), readonly=True)
        chosen = accounts[0].id if accounts else ""
        with self._lock:
            self._default_account = chosen
        return chosen


def _event(
    ref: OperationRef,
    info: RequestInfo,
    who: Identity,
    account: str,
    region: str,
    code: str | None,
    message: str | None,
    *,
    request_parameters: Any = None,
    response_elements: Any = None,
    additional: Mapping[str, Any] | None = None,
    entity: Identity | None = None,
    resources: tuple[tuple[str, str], ...] = (),
) -> AuditEvent:
    """One event of a request in ``account``'s trail. ``entity``: the identity whose
    last-accessed data the event feeds (None: it feeds none)."""
    event_id = uuid4()
    read_only = is_read_only(ref.service_name, ref.name)
    record = api_call_record(
        identity=who,
        event_time=info.received_at,
        event_source=event_source(ref),
        event_name=ref.name,
        region=region,
        source_ip=info.source_ip,
        user_agent=info.user_agent,
        request_parameters=request_parameters,
        response_elements=response_elements,
        request_id=info.request_id,
        event_id=event_id,
        read_only=read_only,
        recipient_account_id=account,
        error_code=code,
        error_message=message,
        additional=additional,
    )
    return AuditEvent(
        event_id=event_id,
        account_id=account,
        event_time=info.received_at,
        event_name=ref.name,
        event_source=event_source(ref),
        username=who.lookup_name,
        access_key_id=who.access_key_id,
        entity_id=entity.entity_id if entity is not None else None,
        entity_arn=entity.entity_arn if entity is not None else None,
        service=str(ref.service_model.signing_name),
        region=region,
        read_only=read_only,
        error_code=code,
        counts_as_access=entity is not None,
        record=record_json(record),
        resources=resources,
    )


def caller_account(caller: Caller | None) -> str | None:
    if caller is None or not caller.account_id:
        return None
    return caller.account_id
