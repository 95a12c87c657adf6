"""Managed policies, versions, attachments, inline policies, and a principal's effective set."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from iamd.secrets import SeededIds
from iamd.store import AWS_ACCOUNT, AlreadyExists, Conflict, NotFound, Store, UnitOfWork
from iamd.store.records import AwsManagedPolicy, ManagedPolicyRecord

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _policy(
    uow: UnitOfWork, ids: SeededIds, name: str, account: str = ACCOUNT, document: str = "{}", path: str = "/"
) -> ManagedPolicyRecord:
    return uow.policies.create(
        account, policy_id=ids.policy_id(), name=name, path=path, document=document, created_at=NOW
    )


def _user(uow: UnitOfWork, ids: SeededIds, name: str, account: str = ACCOUNT) -> str:
    return uow.users.create(account, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def test_create_and_get(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        created = uow.policies.create(
            ACCOUNT,
            policy_id=ids.policy_id(),
            name="ReadOnly",
            path="/team/",
            document='{"Version":"2012-10-17"}',
            created_at=NOW,
            description="read",
        )
    with store.transaction(readonly=True) as uow:
        assert uow.policies.get(ACCOUNT, "readonly") == created
        assert uow.policies.get_by_id(created.id) == created
        version = uow.policies.default_version(created.id)
    assert (created.default_version_id, created.attachment_count, created.description) == ("v1", 0, "read")
    assert (version.version_id, version.is_default, version.document) == (
        "v1",
        True,
        '{"Version":"2012-10-17"}',
    )


def test_names_unique_case_insensitively(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        _policy(uow, ids, "P")
        _policy(uow, ids, "p", account=OTHER_ACCOUNT)
        _policy(uow, ids, "p", account=AWS_ACCOUNT)  # an AWS managed policy of the same name
        with pytest.raises(AlreadyExists):
            _policy(uow, ids, "p", path="/other/")  # the path does not matter


def test_versions(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        policy = _policy(uow, ids, "P", document="one")
        v2 = uow.policies.create_version(policy.id, document="two", created_at=LATER, set_as_default=False)
        v3 = uow.policies.create_version(policy.id, document="three", created_at=LATER, set_as_default=True)
        assert (v2.version_id, v2.is_default, v3.version_id, v3.is_default) == ("v2", False, "v3", True)
        assert uow.policies.get_by_id(policy.id).default_version_id == "v3"
        assert uow.policies.get_by_id(policy.id).updated_at == LATER
        assert uow.policies.count_versions(policy.id) == 3
        uow.policies.delete_version(policy.id, "v2")
        with pytest.raises(Conflict):
            uow.policies.delete_version(policy.id, "v3")  # the default
        with pytest.raises(NotFound):
            uow.policies.delete_version(policy.id, "v2")
        v4 = uow.policies.create_version(policy.id, document="four", created_at=LATER, set_as_default=False)
        assert v4.version_id == "v4"  # ids are not reused
        uow.policies.set_default_version(policy.id, "v1")
        with pytest.raises(NotFound):
            uow.policies.set_default_version(policy.id, "v9")
    with store.transaction(readonly=True) as uow:
        versions = uow.policies.list_versions(policy.id)
        assert [(v.version_id, v.is_default) for v in versions] == [
            ("v4", False),
            ("v3", False),
            ("v1", True),
        ]
        assert uow.policies.get_version(policy.id, "v3").document == "three"
        assert uow.policies.default_version(policy.id).document == "one"


def test_a_version_id_is_unique_per_policy_in_the_database(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        policy = _policy(uow, ids, "P")
    with pytest.raises(AlreadyExists), store.transaction() as uow:
        uow.session.execute(
            text(
                "INSERT INTO policy_versions (policy_id, version_id, document, created_at)"
                " VALUES (:p, 'v1', '', :t)"
            ),
            {"p": policy.id, "t": NOW},
        )


def test_aws_managed_policies_keep_their_version_ids(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        policy = uow.policies.create(
            AWS_ACCOUNT,
            policy_id=ids.policy_id(),
            name="ReadOnlyAccess",
            path="/",
            document="{}",
            created_at=NOW,
            version_id="v11",
            updated_at=LATER,
        )
        assert (policy.default_version_id, policy.updated_at) == ("v11", LATER)
        nxt = uow.policies.create_version(policy.id, document="x", created_at=LATER, set_as_default=True)
        assert nxt.version_id == "v12"
        assert uow.accounts.generation(AWS_ACCOUNT) == 1


def test_attach_detach_and_counts_per_account(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        aws = _policy(uow, ids, "AdministratorAccess", account=AWS_ACCOUNT)
        mine = _policy(uow, ids, "Mine")
        alice = _user(uow, ids, "alice")
        bob = _user(uow, ids, "bob", account=OTHER_ACCOUNT)
        group = uow.groups.create(ACCOUNT, group_id=ids.group_id(), name="g", path="/", created_at=NOW).id
        role = uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        )
        assert uow.policies.attach(aws.id, "user", alice, account_id=ACCOUNT) is True
        assert uow.policies.attach(aws.id, "user", alice, account_id=ACCOUNT) is False  # idempotent
        uow.policies.attach(aws.id, "group", group, account_id=ACCOUNT)
        uow.policies.attach(aws.id, "role", role.id, account_id=ACCOUNT)
        uow.policies.attach(aws.id, "user", bob, account_id=OTHER_ACCOUNT)
        uow.policies.attach(mine.id, "user", alice, account_id=ACCOUNT)
    with store.transaction() as uow:
        assert uow.policies.get(AWS_ACCOUNT, "AdministratorAccess", counts_for=ACCOUNT).attachment_count == 3
        assert (
            uow.policies.get(AWS_ACCOUNT, "AdministratorAccess", counts_for=OTHER_ACCOUNT).attachment_count
            == 1
        )
        assert [p.name for p in uow.policies.attached("user", alice).items] == ["AdministratorAccess", "Mine"]
        assert uow.policies.count_attached("user", alice) == 2
        page = uow.policies.attached("user", alice, max_items=1)
        assert [p.name for p in uow.policies.attached("user", alice, marker=page.marker).items] == ["Mine"]
        entities = uow.policies.entities(aws.id, ACCOUNT)
        assert (
            [e.name for e in entities.users],
            [e.name for e in entities.groups],
            [e.name for e in entities.roles],
        ) == (
            ["alice"],
            ["g"],
            ["r"],
        )
        only_roles = uow.policies.entities(aws.id, ACCOUNT, kind="role")
        assert (only_roles.users, only_roles.groups, len(only_roles.roles)) == ((), (), 1)
        uow.policies.detach(aws.id, "user", alice)
        with pytest.raises(NotFound):
            uow.policies.detach(aws.id, "user", alice)
        assert uow.policies.count_attached("user", alice) == 1


def test_boundary_usage_is_counted_and_listed(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        boundary = _policy(uow, ids, "Boundary")
        alice = _user(uow, ids, "alice")
        uow.users.set_permissions_boundary(alice, boundary.id)
    with store.transaction(readonly=True) as uow:
        assert uow.policies.get_by_id(boundary.id).permissions_boundary_usage_count == 1
        entities = uow.policies.entities(boundary.id, ACCOUNT, usage="PermissionsBoundary")
        assert [e.name for e in entities.users] == ["alice"]
        assert uow.policies.entities(boundary.id, ACCOUNT).users == ()


def test_list_policies_scopes_filters_and_pages(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        for name in ("AWSOne", "AWSTwo", "Shared"):
            _policy(uow, ids, name, account=AWS_ACCOUNT)
        local = [_policy(uow, ids, name, path="/mine/") for name in ("LocalA", "Shared")]
        _policy(uow, ids, "Elsewhere", account=OTHER_ACCOUNT)
        alice = _user(uow, ids, "alice")
        uow.policies.attach(local[0].id, "user", alice, account_id=ACCOUNT)
        uow.users.set_permissions_boundary(alice, local[1].id)

    def names(**kwargs: object) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        marker = None
        with store.transaction(readonly=True) as uow:
            while True:
                page = uow.policies.list(ACCOUNT, marker=marker, max_items=2, **kwargs)  # type: ignore[arg-type]
                out += [(p.name, p.account_id) for p in page.items]
                if (marker := page.marker) is None:
                    return out

    assert names() == [
        ("AWSOne", "aws"),
        ("AWSTwo", "aws"),
        ("LocalA", ACCOUNT),
        ("Shared", ACCOUNT),
        ("Shared", "aws"),
    ]
    assert names(scope="Local") == [("LocalA", ACCOUNT), ("Shared", ACCOUNT)]
    assert names(scope="AWS") == [("AWSOne", "aws"), ("AWSTwo", "aws"), ("Shared", "aws")]
    assert names(path_prefix="/mine/") == [("LocalA", ACCOUNT), ("Shared", ACCOUNT)]
    assert names(only_attached=True) == [("LocalA", ACCOUNT), ("Shared", ACCOUNT)]
    assert names(only_attached=True, usage="PermissionsPolicy") == [("LocalA", ACCOUNT)]
    assert names(only_attached=True, usage="PermissionsBoundary") == [("Shared", ACCOUNT)]


def test_delete_policy(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        policy = _policy(uow, ids, "P")
        uow.policies.create_version(policy.id, document="2", created_at=NOW, set_as_default=False)
        uow.tags.put(ACCOUNT, "policy", policy.id, {"k": "v"})
        alice = _user(uow, ids, "alice")
        uow.policies.attach(policy.id, "user", alice, account_id=ACCOUNT)
    with pytest.raises(Conflict), store.transaction() as uow:
        uow.policies.delete(policy.id)
    with store.transaction() as uow:
        uow.policies.detach(policy.id, "user", alice)
        uow.users.set_permissions_boundary(alice, policy.id)
    with pytest.raises(Conflict), store.transaction() as uow:
        uow.policies.delete(policy.id)
    with store.transaction() as uow:
        uow.users.set_permissions_boundary(alice, None)
        uow.policies.delete(policy.id)
    with store.transaction(readonly=True) as uow:
        assert uow.policies.find(ACCOUNT, "P") is None
        assert uow.tags.list(ACCOUNT, "policy", policy.id) == ()
        assert uow.session.execute(text("SELECT count(*) FROM policy_versions")).scalar_one() == 0


# -- inline policies ------------------------------------------------------------------------------


def test_inline_policies(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        alice = _user(uow, ids, "alice")
        assert uow.inline_policies.put(ACCOUNT, "user", alice, "S3Read", "one") is True
        assert uow.inline_policies.put(ACCOUNT, "user", alice, "s3read", "two") is False  # replaces
        uow.inline_policies.put(ACCOUNT, "user", alice, "Another", "abc")
    with store.transaction() as uow:
        got = uow.inline_policies.get("user", alice, "S3READ")
        assert (got.name, got.document, got.principal_kind) == ("s3read", "two", "user")
        assert uow.inline_policies.list_names("user", alice).items == ("Another", "s3read")
        assert uow.inline_policies.list_names("user", alice, max_items=1).items == ("Another",)
        assert uow.inline_policies.total_size("user", alice) == 6
        uow.inline_policies.delete("user", alice, "another")
        with pytest.raises(NotFound):
            uow.inline_policies.get("user", alice, "Another")
        assert uow.inline_policies.total_size("group", "AGPANOTHING") == 0


# -- a principal's effective policies (the request path) ------------------------------------------


def test_policies_for_user_include_groups_and_boundary(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        alice = _user(uow, ids, "alice")
        _user(uow, ids, "bob")
        admin = _policy(uow, ids, "Admin", account=AWS_ACCOUNT, document="admin-v1")
        uow.policies.create_version(admin.id, document="admin-v2", created_at=NOW, set_as_default=True)
        own = _policy(uow, ids, "Own", document="own")
        boundary = _policy(uow, ids, "Boundary", document="boundary")
        devs = uow.groups.create(ACCOUNT, group_id=ids.group_id(), name="devs", path="/", created_at=NOW).id
        others = uow.groups.create(
            ACCOUNT, group_id=ids.group_id(), name="others", path="/", created_at=NOW
        ).id
        uow.groups.add_member(devs, alice)
        uow.policies.attach(own.id, "user", alice, account_id=ACCOUNT)
        uow.policies.attach(admin.id, "group", devs, account_id=ACCOUNT)
        uow.policies.attach(own.id, "group", others, account_id=ACCOUNT)  # alice is not in it
        uow.inline_policies.put(ACCOUNT, "user", alice, "mine", "inline-user")
        uow.inline_policies.put(ACCOUNT, "group", devs, "team", "inline-group")
        uow.users.set_permissions_boundary(alice, boundary.id)
    with store.transaction(readonly=True) as uow:
        result = uow.principals.policies_for_user(alice)
    summary = [(d.source, d.via_group, d.name, d.document, d.version_id) for d in result.identity]
    assert summary == [
        ("inline", None, "mine", "inline-user", None),
        ("managed", None, "Own", "own", "v1"),
        ("inline", "devs", "team", "inline-group", None),
        ("managed", "devs", "Admin", "admin-v2", "v2"),
    ]
    assert result.identity[3].policy == admin.ref
    assert result.boundary is not None
    assert (result.boundary.layer, result.boundary.document, result.boundary.policy) == (
        "boundary",
        "boundary",
        boundary.ref,
    )


def test_policies_for_role(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        role = uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        )
        policy = _policy(uow, ids, "P", document="managed")
        uow.policies.attach(policy.id, "role", role.id, account_id=ACCOUNT)
        uow.inline_policies.put(ACCOUNT, "role", role.id, "i", "inline")
    with store.transaction(readonly=True) as uow:
        result = uow.principals.policies_for_role(role.id)
        empty = uow.principals.policies_for_user("AIDANOBODYNOBODYNOBOD")
    assert [(d.source, d.document) for d in result.identity] == [("inline", "inline"), ("managed", "managed")]
    assert result.boundary is None
    assert (empty.identity, empty.boundary) == ((), None)


def _aws_policy(
    ids: SeededIds, name: str, version_id: str, document: str, updated: datetime
) -> AwsManagedPolicy:
    return AwsManagedPolicy(
        policy_id=ids.policy_id(),
        name=name,
        path="/",
        version_id=version_id,
        document=document,
        created_at=NOW,
        updated_at=updated,
    )


def test_aws_managed_policies_list_their_archived_earlier_versions(store: Store, ids: SeededIds) -> None:
    """AWS keeps every earlier version of an AWS managed policy ("Versioning IAM policies", IAM
    User Guide); iamd reads them from the archive it ships (iamd/data/aws_managed_policy_versions.zip)."""
    with store.transaction() as uow:
        assert (
            uow.policies.load_aws_managed([_aws_policy(ids, "ReadOnlyAccess", "v190", '{"d": 1}', LATER)])
            == 1
        )
        policy = uow.policies.get(AWS_ACCOUNT, "ReadOnlyAccess")
        versions = uow.policies.list_versions(policy.id)
        ids_listed = [v.version_id for v in versions]
        assert ids_listed[0] == "v190" and versions[0].is_default and versions[0].document == '{"d": 1}'
        assert len(versions) > 100 and "v1" in ids_listed and "v188" in ids_listed
        numbers = [int(v[1:]) for v in ids_listed]
        assert numbers == sorted(numbers, reverse=True)
        assert not any(v.is_default for v in versions[1:])
        first = uow.policies.get_version(policy.id, "v1")
        assert json.loads(first.document)["Statement"] and not first.is_default
        assert first.created_at.year == 2015
        with pytest.raises(NotFound):
            uow.policies.get_version(policy.id, "v999")
        # A customer managed policy of the same name has only its own versions.
        own = _policy(uow, ids, "ReadOnlyAccess")
        assert [v.version_id for v in uow.policies.list_versions(own.id)] == ["v1"]
        with pytest.raises(NotFound):
            uow.policies.get_version(own.id, "v2")


def test_a_newer_snapshot_moves_an_aws_managed_policys_default(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        uow.policies.load_aws_managed([_aws_policy(ids, "ReadOnlyAccess", "v188", '{"old": 1}', NOW)])
        generation = uow.accounts.generation(AWS_ACCOUNT)
    newer = _aws_policy(ids, "ReadOnlyAccess", "v190", '{"new": 1}', LATER)
    with store.transaction() as uow:
        assert uow.policies.load_aws_managed([newer]) == 1
        assert uow.policies.load_aws_managed([newer]) == 0
        policy = uow.policies.get(AWS_ACCOUNT, "ReadOnlyAccess")
        assert (policy.default_version_id, policy.updated_at) == ("v190", LATER)
        assert uow.policies.default_version(policy.id).document == '{"new": 1}'
        assert uow.policies.get_version(policy.id, "v188").document == '{"old": 1}'  # kept, not default
        assert uow.accounts.generation(AWS_ACCOUNT) > generation
