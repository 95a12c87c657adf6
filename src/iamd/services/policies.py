"""A caller's compiled policies and the condition keys of its requests, shared by the server's
authorizer and the operations that evaluate policies themselves (STS trust policies).

Compiled policy sets are cached per principal and invalidated by the shared generation counters of
the principal's account and of the AWS managed policies and by the principal's own generation
(:meth:`iamd.store.accounts.Accounts.generations`), which every write that can change a decision
bumps in the database (a write scoped to one user or role only the account's generation and that
principal's: :meth:`iamd.store.unit.UnitOfWork.principal_scoped`); several iamd nodes on one
database therefore stay consistent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime

from iamd.authz import CompiledStatement, NamedPolicy, PolicySet, PrincipalPolicies, compile_policies
from iamd.policy import PolicyError, PolicyKind, parse_policy
from iamd.policy.variables import ContextValue
from iamd.services.compiled_documents import DocumentCache
from iamd.services.framework import Caller, RequestInfo
from iamd.services.organizations import controls
from iamd.store.accounts import ScopedKind
from iamd.store.records import PolicyDocument
from iamd.store.schema import AWS_ACCOUNT
from iamd.store.unit import UnitOfWork

__all__ = [
    "PolicyCache",
    "caller_context",
    "compile_documents",
    "principal_of",
    "principal_policies",
    "request_context",
    "session_layer",
]

_EMPTY = PolicySet(())


_DOCUMENTS = DocumentCache()


def compile_documents(documents: Sequence[PolicyDocument]) -> PolicySet:
    """The documents' statements in one set; each document compiled once per text (a change to
    one of a principal's policies recompiles that one: ``compiled_documents``)."""
    statements: list[CompiledStatement] = []
    names: list[str] = []
    has_not_principal = False
    for doc in documents:
        label = doc.name if doc.via_group is None else f"{doc.via_group}/{doc.name}"
        compiled = _DOCUMENTS.compiled(label, doc.document)
        if compiled is None:
            continue  # validated when stored; one that no longer parses grants nothing
        names.append(label)
        statements.extend(compiled[0])
        has_not_principal = has_not_principal or compiled[1]
    return PolicySet(statements, names, has_not_principal)


def session_layer(texts: Sequence[str]) -> PolicySet | None:
    """The session policies of a session (None: the session has none)."""
    if not texts:
        return None
    named: list[NamedPolicy] = []
    for i, text in enumerate(texts):
        try:
            named.append(NamedPolicy(f"session-{i}", parse_policy(text, PolicyKind.SESSION, strict=False)))
        except PolicyError:
            continue
    return compile_policies(named)


class PolicyCache:
    """Compiled policies per principal and generation; thread-safe, bounded."""

    def __init__(self, size: int = 4096) -> None:
        self._cache: OrderedDict[tuple[object, ...], PrincipalPolicies] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.misses = 0
        """Policy sets loaded and compiled (not found in the cache): for tests."""

    def clear(self) -> None:
        """Forget everything (``iamd serve --test-mode``'s reset)."""
        with self._lock:
            self._cache.clear()
        _DOCUMENTS.clear()

    def principal_policies(
        self, uow: UnitOfWork, caller: Caller, generations: Mapping[str, int] | None = None
    ) -> PrincipalPolicies:
        """The caller's identity policies, boundary and session policies, compiled. Pass
        ``generations`` (of its account and of "aws", and the caller's user's or role's own) when
        already read in this transaction."""
        principal = principal_of(caller)
        if (
            generations is None
            or caller.account_id not in generations
            or (principal is not None and principal[1] not in generations)
        ):
            generations = uow.accounts.generations([caller.account_id, AWS_ACCOUNT], principal)
        principal_id = principal[1] if principal is not None else f"root:{caller.account_id}"
        key = (
            uow.database,  # ids and generations are per database (tests open several in one process)
            principal_id,
            generations.get(caller.account_id, 0),
            generations.get(AWS_ACCOUNT, 0),
            None if principal is None else generations[principal[1]],
            caller.session_policies,
        )
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        compiled = self._load(uow, caller, generations.get(caller.account_id, 0))
        self.misses += 1
        with self._lock:
            self._cache[key] = compiled
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return compiled

    @staticmethod
    def _load(uow: UnitOfWork, caller: Caller, generation: int) -> PrincipalPolicies:
        session = session_layer(caller.session_policies)
        # The SCPs of the caller's account, by organization level (none for the management
        # account and service-linked roles): iamd.services.organizations.controls.
        scps = controls.scp_levels(controls.account_org(uow, caller.account_id, generation), caller.arn)
        if caller.user_id is not None:
            docs = uow.principals.policies_for_user(caller.user_id)
        elif caller.role_id is not None:
            docs = uow.principals.policies_for_role(caller.role_id)
        else:
            return PrincipalPolicies(identity=_EMPTY, session=session, scps=scps)
        return PrincipalPolicies(
            identity=compile_documents(docs.identity),
            boundary=compile_documents([docs.boundary]) if docs.boundary is not None else None,
            session=session,
            scps=scps,
        )


_SHARED = PolicyCache()


def principal_policies(
    uow: UnitOfWork, caller: Caller, generations: Mapping[str, int] | None = None
) -> PrincipalPolicies:
    """``PolicyCache.principal_policies`` on the process-wide cache."""
    return _SHARED.principal_policies(uow, caller, generations)


def shared_cache() -> PolicyCache:
    return _SHARED


def principal_of(caller: Caller) -> tuple[ScopedKind, str] | None:
    """The user or role whose own generation versions what is cached about ``caller`` (None for
    the root user). A federated user's session is its user's; a role session, its role's."""
    if caller.user_id is not None:
        return ("user", caller.user_id)
    if caller.role_id is not None:
        return ("role", caller.role_id)
    return None


def request_context(info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The global condition keys of a request, whoever makes it."""
    return {
        "aws:sourceip": info.source_ip,
        "aws:securetransport": "true" if info.secure_transport else "false",
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:requestedregion": info.region,
        "aws:useragent": info.user_agent,
        "aws:viaawsservice": "false",
        "aws:principalisawsservice": "false",
    }


def caller_context(caller: Caller, info: RequestInfo, now: datetime) -> dict[str, ContextValue]:
    """The keys AWS puts in every request by ``caller``."""
    context = request_context(info, now)
    context.update(
        {
            "aws:principalarn": caller.arn,
            "aws:principalaccount": caller.account_id,
            "aws:principaltype": caller.principal_type,
            "aws:userid": caller.unique_id,
        }
    )
    if caller.user_name is not None and caller.principal_type == "User":
        context["aws:username"] = caller.user_name
    for key, value in caller.tags.items():
        context[f"aws:principaltag/{key.lower()}"] = value
    if caller.mfa_authenticated is not None:
        context["aws:multifactorauthpresent"] = "true" if caller.mfa_authenticated else "false"
    if caller.mfa_age_seconds is not None:
        context["aws:multifactorauthage"] = str(caller.mfa_age_seconds)
    if caller.session_issued_at is not None:
        context["aws:tokenissuetime"] = caller.session_issued_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if caller.source_identity is not None:
        context["aws:sourceidentity"] = caller.source_identity
    if caller.assumed_root:
        context["aws:assumedroot"] = "true"
    return context
