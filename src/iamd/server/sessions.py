"""Requests signed with session credentials (``ASIA…`` key id + ``X-Amz-Security-Token``).

The token is the session (see :mod:`iamd.services.sts.tokens`): opening it gives the secret that
verifies the signature and everything the ``Caller`` needs, with no database read. One small read
per request remains: the shared generation counters of the session's account (and of the AWS
managed policies) and the own generation of the role or user behind the session, which say whether
what this node remembers about that role or user — that it still exists, its tags, the documents
of managed session policies — is still current. A role deleted since the session began refuses it
(a new role of the same name has another id).

Errors are AWS's: a token that does not open, or does not belong to the signing key id ->
InvalidClientTokenId; a session past its expiry -> ExpiredToken.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from iamd.authz import Principal, PrincipalKind
from iamd.secrets.compare import constant_time_equals
from iamd.secrets.kek import Kek
from iamd.services.sts.evaluation import NO_PERMISSIONS
from iamd.services.sts.tokens import (
    FEDERATED,
    ROLE,
    ROOT,
    InvalidSessionToken,
    Session,
    SessionCaller,
    unseal_session,
)
from iamd.store.accounts import ScopedKind
from iamd.store.errors import NotFound
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.store import Store
from iamd.store.unit import UnitOfWork
from iamd.wire import ExpiredToken, InvalidClientTokenId

__all__ = ["SessionResolver", "resolver_for"]

_TOKEN_CACHE: Final = 8192
_ENTITY_CACHE: Final = 8192
_POLICY_CACHE: Final = 2048


@dataclass(frozen=True, slots=True)
class _Entity:
    generation: tuple[int, int]
    """The account's shared generation and the entity's own when it was read."""
    exists: bool
    tags: tuple[tuple[str, str], ...]


_ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
"""Beside an AssumeRoot task policy, which only denies (spec organizations.md §7.2)."""


class SessionResolver:
    """Opens session tokens and builds their callers; thread-safe, one per store."""

    def __init__(self, kek: Kek | None) -> None:
        self.kek = kek
        self._lock = threading.Lock()
        self._tokens: OrderedDict[str, Session] = OrderedDict()
        self._entities: OrderedDict[tuple[str, str], _Entity] = OrderedDict()
        self._policies: OrderedDict[str, tuple[int, str | None]] = OrderedDict()
        self.entity_misses = 0
        """Roles and users read from the store (not cached, or cached stale): for tests."""

    def clear(self) -> None:
        """Forget every cached token, entity and policy (``iamd serve --test-mode``'s reset)."""
        with self._lock:
            self._tokens.clear()
            self._entities.clear()
            self._policies.clear()

    # -- the token ------------------------------------------------------------------------------

    def open(
        self, token: str | None, access_key_id: str, now: datetime, *, service: str | None = None
    ) -> Session:
        """The session of a request signed by ``access_key_id`` with ``token``; raises AWS's errors.

        ``service`` is the signing service: credentials from GetFederationToken, and from
        GetSessionToken without MFA, are refused by IAM as AWS refuses them."""
        if not token or self.kek is None:
            raise InvalidClientTokenId()
        with self._lock:
            session = self._tokens.get(token)
            if session is not None:
                self._tokens.move_to_end(token)
        if session is None:
            try:
                session = unseal_session(self.kek, token)
            except InvalidSessionToken as exc:
                raise InvalidClientTokenId() from exc
            with self._lock:
                self._tokens[token] = session
                while len(self._tokens) > _TOKEN_CACHE:
                    self._tokens.popitem(last=False)
        if not constant_time_equals(session.access_key_id, access_key_id):
            raise InvalidClientTokenId()
        if now.timestamp() >= session.expires_at:
            raise ExpiredToken()
        if service == "iam" and (
            session.kind == FEDERATED
            or (session.kind != ROLE and not session.mfa and not session.assumed_root)
        ):
            raise InvalidClientTokenId()  # (AssumeRoot's sessions exist to call IAM's root tasks)
        return session

    # -- the caller -----------------------------------------------------------------------------

    def caller(
        self, uow: UnitOfWork, session: Session, now: datetime
    ) -> tuple[SessionCaller, dict[str, int]]:
        """The ``Caller`` behind a verified session, and the shared generations of its account and
        of the AWS managed policies with the own generation of its role or user (read once here,
        in one statement, for the authorizer's cache too)."""
        principal: tuple[ScopedKind, str] | None = None
        if session.kind == ROLE:
            principal = ("role", str(session.role_id))
        elif session.user_id is not None:
            principal = ("user", session.user_id)
        generations = uow.accounts.generations([session.account_id, AWS_ACCOUNT], principal)
        if session.account_id not in generations:
            raise InvalidClientTokenId()  # the account is gone
        return self._caller(uow, session, now, generations), generations

    def _caller(
        self, uow: UnitOfWork, session: Session, now: datetime, generations: dict[str, int]
    ) -> SessionCaller:
        issued = datetime.fromtimestamp(session.issued_at, UTC)
        mfa_age = (
            int(now.timestamp()) - session.mfa_at if session.mfa and session.mfa_at is not None else None
        )

        def build(
            principal: Principal,
            principal_type: str,
            arn: str,
            *,
            role_id: str | None = None,
            user_id: str | None = None,
            user_name: str | None = None,
            tags: dict[str, str] | None = None,
            session_policies: tuple[str, ...] = (),
            assumed_root: bool = False,
        ) -> SessionCaller:
            return SessionCaller(
                principal=principal,
                account_id=session.account_id,
                principal_type=principal_type,
                unique_id=session.unique_id,
                arn=arn,
                access_key_id=session.access_key_id,
                user_id=user_id,
                user_name=user_name,
                role_id=role_id,
                tags=tags or {},
                mfa_authenticated=session.mfa,
                mfa_age_seconds=max(0, mfa_age) if mfa_age is not None else None,
                session_policies=session_policies,
                session_issued_at=issued,
                source_identity=session.source_identity,
                session=session,
                assumed_root=assumed_root,
            )

        if session.kind == ROLE:
            role = self._entity(uow, "role", str(session.role_id), session.account_id, generations)
            if not role.exists:
                raise InvalidClientTokenId()
            principal = Principal(
                PrincipalKind.ASSUMED_ROLE,
                session.arn,
                session.account_id,
                role_name=session.role_name,
                role_arn=session.role_arn,
            )
            return build(
                principal,
                "AssumedRole",
                session.role_arn,
                role_id=session.role_id,
                tags=_merge(role.tags, session.tags),
                session_policies=self._session_policies(uow, session, generations),
            )
        user_tags: tuple[tuple[str, str], ...] = ()
        if session.user_id is not None:
            user = self._entity(uow, "user", session.user_id, session.account_id, generations)
            if not user.exists:
                raise InvalidClientTokenId()
            user_tags = user.tags
        if session.kind == FEDERATED:
            principal = Principal(
                PrincipalKind.FEDERATED_USER,
                session.arn,
                session.account_id,
                source_user_arn=session.user_arn,
            )
            return build(
                principal,
                "FederatedUser",
                session.arn,
                user_id=session.user_id,
                tags=dict(session.tags),
                session_policies=self._session_policies(uow, session, generations),
            )
        if session.kind == ROOT:
            # GetSessionToken as root, or sts:AssumeRoot (its task policy is the session policy).
            return build(
                Principal(PrincipalKind.ROOT, session.arn, session.account_id),
                "Account",
                session.arn,
                # A task policy only denies: with it, everything else stays the root user's.
                session_policies=(*self._session_policies(uow, session, generations), _ALLOW_ALL)
                if session.assumed_root
                else (),
                assumed_root=session.assumed_root,
            )
        return build(
            Principal(PrincipalKind.USER, session.arn, session.account_id),
            "User",
            session.arn,
            user_id=session.user_id,
            user_name=session.user_name,
            tags=dict(user_tags),
        )

    def _entity(
        self, uow: UnitOfWork, kind: str, entity_id: str, account: str, generations: dict[str, int]
    ) -> _Entity:
        key = (kind, entity_id)
        generation = (generations[account], generations[entity_id])
        with self._lock:
            found = self._entities.get(key)
        if found is not None and found.generation == generation:
            return found
        self.entity_misses += 1
        if kind == "role":
            exists = _role_exists(uow, entity_id, account)
            tags = uow.tags.list(account, "role", entity_id) if exists else ()
        else:
            exists = _user_exists(uow, entity_id, account)
            tags = uow.tags.list(account, "user", entity_id) if exists else ()
        entity = _Entity(generation, exists, tuple((t.key, t.value) for t in tags))
        with self._lock:
            self._entities[key] = entity
            self._entities.move_to_end(key)
            while len(self._entities) > _ENTITY_CACHE:
                self._entities.popitem(last=False)
        return entity

    def _session_policies(
        self, uow: UnitOfWork, session: Session, generations: dict[str, int]
    ) -> tuple[str, ...]:
        """The inline session policy and the current documents of the managed ones. A session that
        had session policies keeps a session layer even if every managed one is gone since."""
        if not session.has_session_policies:
            return ()
        documents: list[str] = [session.policy] if session.policy is not None else []
        for arn in session.policy_arns:
            document = self._managed_document(uow, arn, generations)
            if document is not None:
                documents.append(document)
        return tuple(documents) if documents else (NO_PERMISSIONS,)

    def _managed_document(self, uow: UnitOfWork, arn: str, generations: dict[str, int]) -> str | None:
        parts = arn.split(":", 5)
        owner = AWS_ACCOUNT if parts[4] == "aws" else parts[4]
        generation = generations.get(owner)
        if generation is None:
            generation = uow.accounts.generations([owner]).get(owner, -1)
        with self._lock:
            found = self._policies.get(arn)
        if found is not None and found[0] == generation:
            return found[1]
        path_name = parts[5][len("policy") :]
        path, name = path_name.rsplit("/", 1)[0] + "/", path_name.rsplit("/", 1)[1]
        managed = uow.policies.find(owner, name)
        document = None
        if managed is not None and managed.path == path:
            document = uow.policies.default_version(managed.id).document
        with self._lock:
            self._policies[arn] = (generation, document)
            while len(self._policies) > _POLICY_CACHE:
                self._policies.popitem(last=False)
        return document


def _role_exists(uow: UnitOfWork, role_id: str, account: str) -> bool:
    try:
        return uow.roles.get_by_id(role_id).account_id == account
    except NotFound:
        return False


def _user_exists(uow: UnitOfWork, user_id: str, account: str) -> bool:
    try:
        return uow.users.get_by_id(user_id).account_id == account
    except NotFound:
        return False


def _merge(
    role_tags: tuple[tuple[str, str], ...], session_tags: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """Role tags, then session tags, which win over a role tag of the same key (any case)."""
    merged: dict[str, str] = {}
    lower: dict[str, str] = {}
    for key, value in (*role_tags, *session_tags):
        previous = lower.get(key.lower())
        if previous is not None:
            del merged[previous]
        merged[key] = value
        lower[key.lower()] = key
    return merged


_resolvers: weakref.WeakKeyDictionary[Store, SessionResolver] = weakref.WeakKeyDictionary()
_resolvers_lock = threading.Lock()


def resolver_for(store: Store) -> SessionResolver:
    """The resolver of ``store`` (one per store, made on first use)."""
    with _resolvers_lock:
        resolver = _resolvers.get(store)
        if resolver is None:
            resolver = _resolvers[store] = SessionResolver(store.kek)
        return resolver
