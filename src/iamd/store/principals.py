"""The hot path: every policy that applies to a user or a role, in one query.

A user's identity policies are its inline and attached policies and those of each of its groups;
a role's are its inline and attached policies. Managed policies come with their default version.
The permissions boundary, if any, comes in the same query.

Callers caching the compiled result should read the account generations first, in the same
(read-only, hence snapshot) transaction, and key the cache by them.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    and_,
    bindparam,
    literal,
    null,
    select,
    union_all,
)

from iamd.store.base import Repository
from iamd.store.prepared import Prepared
from iamd.store.records import PolicyDocument, PolicyRef, PrincipalPolicies
from iamd.store.schema import (
    Group,
    GroupMember,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    User,
)

_DEFAULT_VERSION = and_(
    PolicyVersion.policy_id == ManagedPolicy.id, PolicyVersion.version_id == ManagedPolicy.default_version_id
)


def _text(value: str | None) -> ColumnElement[str]:
    return literal(value, String()) if value is not None else null().cast(String())


def _inline(layer: str, via_group: SQLColumnExpression[Any]) -> Select[*tuple[Any, ...]]:
    return select(
        _text(layer).label("layer"),
        _text("inline").label("source"),
        via_group.label("via_group"),
        InlinePolicy.name.label("name"),
        _text(None).label("policy_id"),
        _text(None).label("account_id"),
        _text(None).label("path"),
        _text(None).label("version_id"),
        InlinePolicy.document.label("document"),
    )


def _managed(layer: str, via_group: SQLColumnExpression[Any]) -> Select[*tuple[Any, ...]]:
    return select(
        _text(layer).label("layer"),
        _text("managed").label("source"),
        via_group.label("via_group"),
        ManagedPolicy.name.label("name"),
        ManagedPolicy.id.label("policy_id"),
        ManagedPolicy.account_id.label("account_id"),
        ManagedPolicy.path.label("path"),
        PolicyVersion.version_id.label("version_id"),
        PolicyVersion.document.label("document"),
    ).join(PolicyVersion, _DEFAULT_VERSION)


_PRINCIPAL: Final = bindparam("principal", type_=String())
_OWN = _text(None)

# Built once: compiling them is most of the cost of a call otherwise.
_USER_QUERY: Final = union_all(
    _inline("identity", _OWN).where(InlinePolicy.user_id == _PRINCIPAL),
    _inline("identity", Group.name)
    .join(GroupMember, GroupMember.group_id == InlinePolicy.group_id)
    .join(Group, Group.id == InlinePolicy.group_id)
    .where(GroupMember.user_id == _PRINCIPAL),
    _managed("identity", _OWN)
    .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
    .where(PolicyAttachment.user_id == _PRINCIPAL),
    _managed("identity", Group.name)
    .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
    .join(GroupMember, GroupMember.group_id == PolicyAttachment.group_id)
    .join(Group, Group.id == PolicyAttachment.group_id)
    .where(GroupMember.user_id == _PRINCIPAL),
    _managed("boundary", _OWN)
    .join(User, User.permissions_boundary_id == ManagedPolicy.id)
    .where(User.id == _PRINCIPAL),
)

_ROLE_QUERY: Final = union_all(
    _inline("identity", _OWN).where(InlinePolicy.role_id == _PRINCIPAL),
    _managed("identity", _OWN)
    .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
    .where(PolicyAttachment.role_id == _PRINCIPAL),
    _managed("boundary", _OWN)
    .join(Role, Role.permissions_boundary_id == ManagedPolicy.id)
    .where(Role.id == _PRINCIPAL),
)

_USER_READ: Final = Prepared(_USER_QUERY)
_ROLE_READ: Final = Prepared(_ROLE_QUERY)


class Principals(Repository):
    def policies_for_user(self, user_id: str) -> PrincipalPolicies:
        """A user's own inline and attached policies, its groups', and its permissions boundary."""
        return self._run(_USER_READ, user_id)

    def policies_for_role(self, role_id: str) -> PrincipalPolicies:
        """A role's inline and attached policies, and its permissions boundary."""
        return self._run(_ROLE_READ, role_id)

    def _run(self, query: Prepared, principal_id: str) -> PrincipalPolicies:
        identity: list[PolicyDocument] = []
        boundary: PolicyDocument | None = None
        rows = query.rows(self._session, {"principal": principal_id})
        for layer, source, via_group, name, policy_id, account_id, path, version_id, document in rows:
            doc = PolicyDocument(
                layer=layer,
                source=source,
                name=name,
                document=document,
                via_group=via_group,
                policy=PolicyRef(policy_id, account_id, path, name) if policy_id is not None else None,
                version_id=version_id,
            )
            if layer == "boundary":
                boundary = doc
            else:
                identity.append(doc)
        identity.sort(key=lambda d: (d.via_group or "", d.source, d.name))
        return PrincipalPolicies(tuple(identity), boundary)
