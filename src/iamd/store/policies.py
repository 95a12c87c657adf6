"""Managed policies, their versions, and their attachments to users, groups and roles.

AWS managed policies live in the pseudo-account ``"aws"`` (:data:`AWS_ACCOUNT`); attachment and
boundary-usage counts are always counted within the account that asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import InstrumentedAttribute

from iamd.store.aws_versions import earlier_versions
from iamd.store.base import Repository, batches, found
from iamd.store.errors import AlreadyExists, Conflict, NotFound
from iamd.store.paging import paginate, paginate_rows, starts_with
from iamd.store.prepared import Prepared, PreparedInsert, PreparedWrite
from iamd.store.records import (
    AwsManagedPolicy,
    EntityRef,
    ManagedPolicyRecord,
    Page,
    PolicyEntities,
    PolicyRef,
    PolicyVersionRecord,
    PrincipalKind,
)
from iamd.store.schema import (
    AWS_ACCOUNT,
    Group,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    Role,
    User,
)

Scope = Literal["All", "AWS", "Local"]
Usage = Literal["PermissionsPolicy", "PermissionsBoundary"]

_Principal = type[User] | type[Group] | type[Role]
_ORDER = (ManagedPolicy.name_lower, ManagedPolicy.account_id)
_LISTED = (
    ManagedPolicy.id,
    ManagedPolicy.account_id,
    ManagedPolicy.name,
    ManagedPolicy.name_lower,
    ManagedPolicy.path,
    ManagedPolicy.description,
    ManagedPolicy.default_version_id,
    ManagedPolicy.is_attachable,
    ManagedPolicy.created_at,
    ManagedPolicy.updated_at,
)
"""What a listing reads of each policy (plain rows: ListPolicies and GetAccountAuthorizationDetails
read up to 1,000 a page; ORM objects cost more than the query)."""


def principal_column(kind: PrincipalKind) -> InstrumentedAttribute[str | None]:
    """The attachment column that names a principal of this kind."""
    return {
        "user": PolicyAttachment.user_id,
        "group": PolicyAttachment.group_id,
        "role": PolicyAttachment.role_id,
    }[kind]


_ATTACHED: dict[PrincipalKind, Prepared] = {
    kind: Prepared(
        select(PolicyAttachment.policy_id).where(
            PolicyAttachment.policy_id == bindparam("policy_id"),
            principal_column(kind) == bindparam("principal_id"),
        )
    )
    for kind in ("user", "group", "role")
}
"""Whether a policy is attached to a principal (on Attach*Policy's path: prebuilt)."""
_ATTACHMENT: dict[PrincipalKind, Prepared] = {
    kind: Prepared(
        select(PolicyAttachment.id, PolicyAttachment.account_id).where(
            PolicyAttachment.policy_id == bindparam("policy_id"),
            principal_column(kind) == bindparam("principal_id"),
        )
    )
    for kind in ("user", "group", "role")
}
"""A policy's attachment to a principal: its row and account (Detach*Policy)."""
_COUNT_ATTACHED: dict[PrincipalKind, Prepared] = {
    kind: Prepared(
        select(func.count())
        .select_from(PolicyAttachment)
        .where(principal_column(kind) == bindparam("principal_id"))
    )
    for kind in ("user", "group", "role")
}
"""How many policies a principal has attached (DeleteUser's and DeleteRole's check: prebuilt)."""
_ATTACHED_IDS: dict[PrincipalKind, Prepared] = {
    kind: Prepared(
        select(PolicyAttachment.policy_id).where(principal_column(kind) == bindparam("principal_id"))
    )
    for kind in ("user", "group", "role")
}
"""The ids of the policies attached to a principal (a few: the quota is 10), which tell both whether
a policy is attached and how many are (Attach*Policy's path, in one read: prebuilt)."""


def _attached_key(kind: PrincipalKind, principal_id: str) -> tuple[str, ...]:
    """Where a principal's attached ids are kept in the transaction (``UnitOfWork.rows_seen``)."""
    return ("attached", kind, principal_id)


_ATTACH: dict[PrincipalKind, PreparedInsert] = {
    kind: PreparedInsert(
        PolicyAttachment.__table__,  # type: ignore[arg-type]
        ("account_id", "policy_id", principal_column(kind).key),
    )
    for kind in ("user", "group", "role")
}
_DETACH = PreparedWrite(delete(PolicyAttachment).where(PolicyAttachment.id == bindparam("row_id")))

_FIND = Prepared(
    select(
        ManagedPolicy.id,
        ManagedPolicy.account_id,
        ManagedPolicy.name,
        ManagedPolicy.path,
        ManagedPolicy.description,
        ManagedPolicy.default_version_id,
        ManagedPolicy.is_attachable,
        ManagedPolicy.created_at,
        ManagedPolicy.updated_at,
    ).where(
        ManagedPolicy.account_id == bindparam("account_id"),
        ManagedPolicy.name_lower == bindparam("name_lower"),
    )
)
"""A policy by name without its counts (Attach*Policy's lookup): the fields of
:class:`ManagedPolicyRecord` in its order, prebuilt."""


def _ref(row: ManagedPolicy) -> PolicyRef:
    return PolicyRef(row.id, row.account_id, row.path, row.name)


def _version(row: PolicyVersion, default_version_id: str) -> PolicyVersionRecord:
    return PolicyVersionRecord(
        row.policy_id, row.version_id, row.document, row.version_id == default_version_id, row.created_at
    )


def _record(
    row: ManagedPolicy | Row[Any], attachment_count: int = 0, boundary_count: int = 0
) -> ManagedPolicyRecord:
    return ManagedPolicyRecord(
        row.id,
        row.account_id,
        row.name,
        row.path,
        row.description,
        row.default_version_id,
        row.is_attachable,
        row.created_at,
        row.updated_at,
        attachment_count,
        boundary_count,
    )


def _version_number(version_id: str) -> int:
    return int(version_id[1:])


def _archived(policy: ManagedPolicy) -> list[PolicyVersionRecord]:
    """An AWS managed policy's earlier versions from the archive iamd ships (older than its
    default; see :mod:`iamd.store.aws_versions`). None for other policies."""
    if policy.account_id != AWS_ACCOUNT:
        return []
    default = _version_number(policy.default_version_id)
    return [
        PolicyVersionRecord(policy.id, v.version_id, v.document, False, v.created_at)
        for v in earlier_versions(policy.name)
        if _version_number(v.version_id) < default
    ]


class Policies(Repository):
    # -- lookups --------------------------------------------------------------------------------

    def find(
        self, account_id: str, name: str, *, counts_for: str | None = None, counts: bool = True
    ) -> ManagedPolicyRecord | None:
        """The policy named `name` in `account_id` (``"aws"`` for AWS managed policies).

        Counts are for `counts_for` (default: `account_id`); ``counts=False`` leaves them 0 and
        spares their two queries (for callers that need only the policy: attaching it).
        """
        if not counts:
            rows = _FIND.rows(self._session, {"account_id": account_id, "name_lower": name.lower()})
            if not rows:
                return None
            (policy_id, owner, found_name, path, description, default, attachable, created, updated) = rows[0]
            return ManagedPolicyRecord(
                policy_id, owner, found_name, path, description, default, attachable, created, updated, 0, 0
            )
        row = self._session.scalar(
            select(ManagedPolicy).where(
                ManagedPolicy.account_id == account_id, ManagedPolicy.name_lower == name.lower()
            )
        )
        if row is None:
            return None
        return self._records([row], counts_for or account_id)[0]

    def prefetch(self, account_id: str, name: str) -> None:
        """:meth:`find` without counts (``counts=False``) of this policy read ahead, in the round
        trip of the transaction's next statement, on PostgreSQL (Attach*Policy: the policy its
        request names); nothing otherwise."""
        if not self._uow.database.startswith("sqlite"):  # (a prepared read costs no round trip there)
            _FIND.prefetch(self._session, {"account_id": account_id, "name_lower": name.lower()})

    def get(self, account_id: str, name: str, *, counts_for: str | None = None) -> ManagedPolicyRecord:
        return found(self.find(account_id, name, counts_for=counts_for), f"policy {name}")

    def get_by_id(self, policy_id: str, *, counts_for: str | None = None) -> ManagedPolicyRecord:
        row = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        return self._records([row], counts_for or row.account_id)[0]

    def refs(self, policy_ids: Iterable[str]) -> dict[str, PolicyRef]:
        """Names of these policies, by id, in one query."""
        ids = set(policy_ids)
        if not ids:
            return {}
        return {
            row.id: _ref(row)
            for row in self._session.scalars(select(ManagedPolicy).where(ManagedPolicy.id.in_(ids)))
        }

    def list(
        self,
        account_id: str,
        *,
        scope: Scope = "All",
        only_attached: bool = False,
        usage: Usage | None = None,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[ManagedPolicyRecord]:
        """ListPolicies as seen from `account_id`: its own policies and/or AWS managed ones."""
        owners = {"All": [account_id, AWS_ACCOUNT], "AWS": [AWS_ACCOUNT], "Local": [account_id]}[scope]
        stmt = select(*_LISTED).where(ManagedPolicy.account_id.in_(owners))
        if path_prefix != "/":
            stmt = stmt.where(starts_with(ManagedPolicy.path, path_prefix))
        if only_attached:
            # Uncorrelated IN subqueries, computed once per statement: the correlated EXISTS they
            # replace scanned the account's users and roles once per AWS managed policy (1,500 x
            # 15,000 rows in a large account, seconds per page of GetAccountAuthorizationDetails).
            attached = ManagedPolicy.id.in_(
                select(PolicyAttachment.policy_id).where(PolicyAttachment.account_id == account_id)
            )
            bounding = self._used_as_boundary(account_id)
            if usage == "PermissionsPolicy":
                stmt = stmt.where(attached)
            elif usage == "PermissionsBoundary":
                stmt = stmt.where(bounding)
            else:
                stmt = stmt.where(attached | bounding)
        rows, next_marker = paginate_rows(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(self._records(rows, account_id)), next_marker)

    @staticmethod
    def _used_as_boundary(account_id: str) -> ColumnElement[bool]:
        return ManagedPolicy.id.in_(
            select(User.permissions_boundary_id).where(
                User.account_id == account_id, User.permissions_boundary_id.is_not(None)
            )
        ) | ManagedPolicy.id.in_(
            select(Role.permissions_boundary_id).where(
                Role.account_id == account_id, Role.permissions_boundary_id.is_not(None)
            )
        )

    def _records(
        self, rows: Sequence[ManagedPolicy] | Sequence[Row[Any]], account_id: str
    ) -> Sequence[ManagedPolicyRecord]:
        if not rows:
            return []
        ids = [row.id for row in rows]
        attachments = {
            pid: n
            for pid, n in self._session.execute(
                select(PolicyAttachment.policy_id, func.count())
                .where(PolicyAttachment.policy_id.in_(ids), PolicyAttachment.account_id == account_id)
                .group_by(PolicyAttachment.policy_id)
            )
        }
        bounded = union_all(
            select(User.permissions_boundary_id.label("pid")).where(
                User.permissions_boundary_id.in_(ids), User.account_id == account_id
            ),
            select(Role.permissions_boundary_id.label("pid")).where(
                Role.permissions_boundary_id.in_(ids), Role.account_id == account_id
            ),
        ).subquery()
        boundaries: dict[str, int] = {
            pid: n
            for pid, n in self._session.execute(select(bounded.c.pid, func.count()).group_by(bounded.c.pid))
        }
        return [_record(row, attachments.get(row.id, 0), boundaries.get(row.id, 0)) for row in rows]

    # -- writes ---------------------------------------------------------------------------------

    def create(
        self,
        account_id: str,
        *,
        policy_id: str,
        name: str,
        path: str,
        document: str,
        created_at: datetime,
        description: str | None = None,
        is_attachable: bool = True,
        version_id: str = "v1",
        updated_at: datetime | None = None,
    ) -> ManagedPolicyRecord:
        """A new policy with one version, `document`, the default.

        The version is ``v1`` for a new customer managed policy; an AWS managed policy loaded from
        a snapshot keeps its own (``v11``), and later versions continue from there.
        """
        self._uow.changed(account_id)
        if self.find(account_id, name) is not None:
            raise AlreadyExists(f"policy {name} already exists")
        row = ManagedPolicy(
            id=policy_id,
            account_id=account_id,
            name=name,
            name_lower=name.lower(),
            path=path,
            description=description,
            default_version_id=version_id,
            next_version=_version_number(version_id) + 1,
            is_attachable=is_attachable,
            created_at=created_at,
            updated_at=updated_at or created_at,
        )
        self._session.add(row)
        self._session.flush()
        self._session.add(
            PolicyVersion(
                policy_id=policy_id, version_id=version_id, document=document, created_at=created_at
            )
        )
        self._session.flush()
        return _record(row)

    def delete(self, policy_id: str) -> None:
        """Delete a policy and all its versions; Conflict while it is attached or bounds anyone."""
        row = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        self._uow.changed(row.account_id)
        in_use = self._session.scalar(
            select(
                exists().where(PolicyAttachment.policy_id == policy_id)
                | exists().where(User.permissions_boundary_id == policy_id)
                | exists().where(Role.permissions_boundary_id == policy_id)
            )
        )
        if in_use:
            raise Conflict("the policy is attached to an entity or used as a permissions boundary")
        self._uow.tags.delete_all(row.account_id, "policy", policy_id)
        self._session.execute(delete(PolicyVersion).where(PolicyVersion.policy_id == policy_id))
        self._session.execute(delete(ManagedPolicy).where(ManagedPolicy.id == policy_id))

    # -- versions -------------------------------------------------------------------------------

    def aws_managed_defaults(self) -> dict[str, str]:
        """The stored AWS managed policies' default versions, by name (one query): what start
        compares with the snapshot before building anything for :meth:`load_aws_managed`."""
        rows = self._session.execute(
            select(ManagedPolicy.name, ManagedPolicy.default_version_id).where(
                ManagedPolicy.account_id == AWS_ACCOUNT
            )
        )
        return {name: default for name, default in rows}

    def load_aws_managed(self, policies: Sequence[AwsManagedPolicy]) -> int:
        """Bring the AWS managed policies up to the snapshot, in a few bulk statements: insert
        those not stored yet (by name), and give those whose snapshot version is newer than the
        stored default that version as their new default (the old one stays, as AWS keeps it).
        Returns how many policies were added or updated. For loading the snapshot at start; bumps
        ``"aws"`` when anything changed."""
        stored = {
            name: (policy_id, default)
            for name, policy_id, default in self._session.execute(
                select(ManagedPolicy.name, ManagedPolicy.id, ManagedPolicy.default_version_id).where(
                    ManagedPolicy.account_id == AWS_ACCOUNT
                )
            )
        }
        fresh = [p for p in policies if p.name not in stored]
        newer = [
            (stored[p.name][0], p)
            for p in policies
            if p.name in stored and _version_number(p.version_id) > _version_number(stored[p.name][1])
        ]
        if not fresh and not newer:
            return 0
        self._uow.changed(AWS_ACCOUNT)
        # Core inserts into the tables (one executemany each) rather than the ORM's bulk insert of
        # the mapped classes: a fifth less CPU for the 1,582 rows of a first start.
        if fresh:
            self._session.execute(
                insert(ManagedPolicy.__table__),  # type: ignore[arg-type]
                [
                    {
                        "id": p.policy_id,
                        "account_id": AWS_ACCOUNT,
                        "name": p.name,
                        "name_lower": p.name.lower(),
                        "path": p.path,
                        "description": None,
                        "default_version_id": p.version_id,
                        "next_version": _version_number(p.version_id) + 1,
                        "is_attachable": True,
                        "created_at": p.created_at,
                        "updated_at": p.updated_at,
                    }
                    for p in fresh
                ],
            )
        self._session.execute(
            insert(PolicyVersion.__table__),  # type: ignore[arg-type]
            [
                {
                    "policy_id": policy_id,
                    "version_id": p.version_id,
                    "document": p.document,
                    "created_at": p.updated_at,
                }
                for policy_id, p in [*((p.policy_id, p) for p in fresh), *newer]
            ],
        )
        if newer:
            self._session.execute(
                update(ManagedPolicy),
                [
                    {
                        "id": policy_id,
                        "default_version_id": p.version_id,
                        "next_version": _version_number(p.version_id) + 1,
                        "updated_at": p.updated_at,
                    }
                    for policy_id, p in newer
                ],
            )
        if not self._uow.database.startswith("sqlite"):
            # Statistics for the planner now, as PostgreSQL's documentation advises after a bulk
            # load (autovacuum may be off, or not come round before the first requests). ANALYZE
            # counts the rows this transaction inserted; its statistics commit with them.
            self._session.execute(text("ANALYZE managed_policies, policy_versions"))
        return len(fresh) + len(newer)

    def create_version(
        self, policy_id: str, *, document: str, created_at: datetime, set_as_default: bool
    ) -> PolicyVersionRecord:
        """Add the next version (``v2``, ``v3``…; ids are never reused). The 5-version limit is the
        service's to enforce, see :meth:`count_versions`."""
        row = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        self._uow.changed(row.account_id)
        version_id = f"v{row.next_version}"
        row.next_version += 1
        row.updated_at = created_at
        if set_as_default:
            row.default_version_id = version_id
        version = PolicyVersion(
            policy_id=policy_id, version_id=version_id, document=document, created_at=created_at
        )
        self._session.add(version)
        self._session.flush()
        return _version(version, row.default_version_id)

    def get_version(self, policy_id: str, version_id: str) -> PolicyVersionRecord:
        policy = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        row = self._session.get(PolicyVersion, (policy_id, version_id))
        if row is None:
            archived = [v for v in _archived(policy) if v.version_id == version_id]
            return found(archived[0] if archived else None, f"policy version {version_id}")
        return _version(row, policy.default_version_id)

    def default_version(self, policy_id: str) -> PolicyVersionRecord:
        policy = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        return self.get_version(policy_id, policy.default_version_id)

    def list_versions(self, policy_id: str) -> tuple[PolicyVersionRecord, ...]:
        """All versions, newest first (for an AWS managed policy, with its archived earlier ones)."""
        policy = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        rows = self._session.scalars(select(PolicyVersion).where(PolicyVersion.policy_id == policy_id))
        versions = [_version(r, policy.default_version_id) for r in rows]
        stored = {v.version_id for v in versions}
        versions.extend(v for v in _archived(policy) if v.version_id not in stored)
        return tuple(sorted(versions, key=lambda v: _version_number(v.version_id), reverse=True))

    def versions_many(
        self, policies: Sequence[ManagedPolicyRecord]
    ) -> dict[str, tuple[PolicyVersionRecord, ...]]:
        """:meth:`list_versions` for many policies at once (customer managed ones in a few
        queries; an AWS managed one with its archived versions, as there); every id is a key."""
        defaults = {p.id: p.default_version_id for p in policies}
        found: dict[str, list[PolicyVersionRecord]] = {p.id: [] for p in policies}
        columns = (
            PolicyVersion.policy_id,
            PolicyVersion.version_id,
            PolicyVersion.document,
            PolicyVersion.created_at,
        )
        customer = [p.id for p in policies if p.account_id != AWS_ACCOUNT]
        for chunk in batches(customer):
            # Plain rows, not ORM objects: a page of GetAccountAuthorizationDetails reads 1,000.
            rows = self._session.execute(select(*columns).where(PolicyVersion.policy_id.in_(chunk)))
            for policy_id, version_id, document, created_at in rows:
                is_default = version_id == defaults[policy_id]
                found[policy_id].append(
                    PolicyVersionRecord(policy_id, version_id, document, is_default, created_at)
                )
        out: dict[str, tuple[PolicyVersionRecord, ...]] = {}
        for policy in policies:
            versions = found[policy.id]
            if policy.account_id == AWS_ACCOUNT:
                out[policy.id] = self.list_versions(policy.id)
                continue
            out[policy.id] = tuple(
                sorted(versions, key=lambda v: _version_number(v.version_id), reverse=True)
            )
        return out

    def count_versions(self, policy_id: str) -> int:
        return (
            self._session.scalar(
                select(func.count()).select_from(PolicyVersion).where(PolicyVersion.policy_id == policy_id)
            )
            or 0
        )

    def set_default_version(self, policy_id: str, version_id: str) -> None:
        policy = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        found(self._session.get(PolicyVersion, (policy_id, version_id)), f"policy version {version_id}")
        self._uow.changed(policy.account_id)
        policy.default_version_id = version_id
        self._session.flush()

    def delete_version(self, policy_id: str, version_id: str) -> None:
        """Delete a non-default version (Conflict for the default one)."""
        policy = found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")
        version = found(
            self._session.get(PolicyVersion, (policy_id, version_id)), f"policy version {version_id}"
        )
        if policy.default_version_id == version_id:
            raise Conflict("cannot delete the default version of a policy")
        self._uow.changed(policy.account_id)
        self._session.delete(version)
        self._session.flush()

    # -- attachments ----------------------------------------------------------------------------

    def attach(self, policy_id: str, kind: PrincipalKind, principal_id: str, *, account_id: str) -> bool:
        """Attach to a principal of `account_id`; False (and no change) if already attached: then
        the account's generation stays, since no decision changes and every cache stays valid.
        Whether it is attached: from :meth:`attached_ids` read earlier in the transaction if
        nothing was written since (Attach*Policy's checks), else one lookup."""
        seen_key = _attached_key(kind, principal_id)
        ids: frozenset[str] | None = self._uow.writing(seen_key)
        attached = self._is_attached(policy_id, kind, principal_id) if ids is None else policy_id in ids
        if attached:
            if ids is not None:
                self._uow.rows_seen[seen_key] = ids
            return False
        self._uow.changed(account_id)
        # (on PostgreSQL with the COMMIT, in its round trip: no one reads what it returns)
        _ATTACH[kind].run(
            self._session,
            [{"account_id": account_id, "policy_id": policy_id, principal_column(kind).key: principal_id}],
            defer=True,
        )
        if ids is not None:
            self._uow.rows_seen[seen_key] = ids | {policy_id}
        return True

    def detach(self, policy_id: str, kind: PrincipalKind, principal_id: str) -> None:
        rows = _ATTACHMENT[kind].rows(self._session, {"policy_id": policy_id, "principal_id": principal_id})
        if not rows:
            raise NotFound(f"policy {policy_id} is not attached to {kind} {principal_id}")
        row_id, account_id = rows[0]
        self._uow.changed(account_id)
        _DETACH.run(self._session, {"row_id": row_id})

    def attached(
        self,
        kind: PrincipalKind,
        principal_id: str,
        *,
        path_prefix: str = "/",
        marker: str | None = None,
        max_items: int = 100,
    ) -> Page[PolicyRef]:
        """The managed policies attached to a principal (ListAttached{User,Group,Role}Policies)."""
        stmt = (
            select(ManagedPolicy)
            .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
            .where(principal_column(kind) == principal_id)
        )
        if path_prefix != "/":
            stmt = stmt.where(starts_with(ManagedPolicy.path, path_prefix))
        rows, next_marker = paginate(self._session, stmt, _ORDER, marker, max_items)
        return Page(tuple(_ref(r) for r in rows), next_marker)

    def attached_many(
        self, kind: PrincipalKind, principal_ids: Sequence[str]
    ) -> dict[str, tuple[PolicyRef, ...]]:
        """:meth:`attached` for many principals at once (all of each one's policies, in the same
        order); every id is a key."""
        column = principal_column(kind)
        found: dict[str, list[PolicyRef]] = {pid: [] for pid in principal_ids}
        for chunk in batches(principal_ids):
            rows = self._session.execute(
                select(
                    column, ManagedPolicy.id, ManagedPolicy.account_id, ManagedPolicy.path, ManagedPolicy.name
                )
                .join(PolicyAttachment, PolicyAttachment.policy_id == ManagedPolicy.id)
                .where(column.in_(chunk))
                .order_by(*_ORDER)  # the database's order, as attached has it
            )
            for principal_id, policy_id, account_id, path, name in rows:
                assert principal_id is not None
                found[principal_id].append(PolicyRef(policy_id, account_id, path, name))
        return {pid: tuple(v) for pid, v in found.items()}

    def is_attached(self, policy_id: str, kind: PrincipalKind, principal_id: str) -> bool:
        """Whether the policy is attached to the principal (one prebuilt lookup, or none after
        :meth:`attached_ids` in the transaction)."""
        ids: frozenset[str] | None = self._uow.rows_seen.get(_attached_key(kind, principal_id))
        if ids is not None:
            return policy_id in ids
        return self._is_attached(policy_id, kind, principal_id)

    def _is_attached(self, policy_id: str, kind: PrincipalKind, principal_id: str) -> bool:
        return bool(
            _ATTACHED[kind].rows(self._session, {"policy_id": policy_id, "principal_id": principal_id})
        )

    def attached_ids(self, kind: PrincipalKind, principal_id: str) -> frozenset[str]:
        """The ids of the managed policies attached to the principal (one prebuilt read per
        transaction while nothing is written: :attr:`iamd.store.unit.UnitOfWork.rows_seen`;
        :meth:`attach` keeps it): whether a policy is attached, and how many are."""
        seen = self._uow.rows_seen
        key = _attached_key(kind, principal_id)
        ids: frozenset[str] | None = seen.get(key)
        if ids is None:
            rows = _ATTACHED_IDS[kind].rows(self._session, {"principal_id": principal_id})
            ids = seen[key] = frozenset([row[0] for row in rows])
        return ids

    def count_attached(self, kind: PrincipalKind, principal_id: str) -> int:
        """How many managed policies the principal has attached (one prebuilt count, or none
        after :meth:`attached_ids` in the transaction)."""
        ids: frozenset[str] | None = self._uow.rows_seen.get(_attached_key(kind, principal_id))
        if ids is not None:
            return len(ids)
        return int(_COUNT_ATTACHED[kind].rows(self._session, {"principal_id": principal_id})[0][0])

    def entities(
        self,
        policy_id: str,
        account_id: str,
        *,
        kind: PrincipalKind | None = None,
        path_prefix: str = "/",
        usage: Usage = "PermissionsPolicy",
    ) -> PolicyEntities:
        """ListEntitiesForPolicy within `account_id`: who has it attached, or as a boundary."""
        found(self._session.get(ManagedPolicy, policy_id), f"policy {policy_id}")

        def wanted(k: PrincipalKind) -> bool:
            return kind is None or kind == k

        def refs(model: _Principal, condition: ColumnElement[bool]) -> tuple[EntityRef, ...]:
            stmt = select(model.id, model.name, model.path).where(model.account_id == account_id, condition)
            if path_prefix != "/":
                stmt = stmt.where(starts_with(model.path, path_prefix))
            return tuple(EntityRef(*row) for row in self._session.execute(stmt.order_by(model.name_lower)))

        if usage == "PermissionsBoundary":
            return PolicyEntities(
                refs(User, User.permissions_boundary_id == policy_id) if wanted("user") else (),
                (),
                refs(Role, Role.permissions_boundary_id == policy_id) if wanted("role") else (),
            )

        def attached_to(model: _Principal, k: PrincipalKind) -> tuple[EntityRef, ...]:
            if not wanted(k):
                return ()
            return refs(
                model,
                exists().where(PolicyAttachment.policy_id == policy_id, principal_column(k) == model.id),
            )

        return PolicyEntities(
            attached_to(User, "user"), attached_to(Group, "group"), attached_to(Role, "role")
        )
