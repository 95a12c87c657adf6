"""Batch reads (a page of GetAccountAuthorizationDetails in a few queries): each answers, for
every id asked, exactly what the one-principal read answers, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime

from iamd.secrets import SeededIds
from iamd.store import Store
from iamd.store.records import AwsManagedPolicy
from iamd.store.schema import AWS_ACCOUNT

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DOC = '{"Version": "2012-10-17", "Statement": []}'


def test_batch_reads_answer_what_the_single_reads_do(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        users = [
            uow.users.create(ACCOUNT, user_id=ids.user_id(), name=n, path="/", created_at=NOW).id
            for n in ("ann", "bob", "cy")
        ]
        groups = [
            uow.groups.create(ACCOUNT, group_id=ids.group_id(), name=n, path="/", created_at=NOW).id
            for n in ("Zeta", "alpha", "beta")
        ]
        policies = [
            uow.policies.create(
                ACCOUNT, policy_id=ids.policy_id(), name=n, path="/", document=DOC, created_at=NOW
            ).id
            for n in ("p-b", "P-a", "p-c")
        ]
        uow.policies.create_version(policies[0], document=DOC, created_at=NOW, set_as_default=True)
        for group in groups:
            uow.groups.add_member(group, users[0])
        uow.groups.add_member(groups[2], users[1])
        for policy in policies:
            uow.policies.attach(policy, "user", users[0], account_id=ACCOUNT)
        uow.policies.attach(policies[2], "group", groups[1], account_id=ACCOUNT)
        uow.inline_policies.put(ACCOUNT, "user", users[0], "zz", DOC)
        uow.inline_policies.put(ACCOUNT, "user", users[0], "Aa", DOC)
        uow.inline_policies.put(ACCOUNT, "user", users[1], "only", DOC)
        uow.tags.put(ACCOUNT, "user", users[0], {"b": "2", "C": "1", "a": "3"})
        uow.tags.put(ACCOUNT, "user", users[2], {"k": "v"})
        # An AWS managed policy whose earlier versions come from the archive iamd ships.
        aws = AwsManagedPolicy(ids.policy_id(), "ReadOnlyAccess", "/", "v3", DOC, NOW, NOW)
        uow.policies.load_aws_managed([aws])
    with store.transaction(readonly=True) as uow:
        tags = uow.tags.list_many(ACCOUNT, "user", users)
        inline = uow.inline_policies.list_many("user", users)
        group_names = uow.groups.names_for_users(users)
        attached = uow.policies.attached_many("user", users)
        for user in users:
            assert tags[user] == uow.tags.list(ACCOUNT, "user", user)
            names = uow.inline_policies.list_names("user", user, max_items=1000).items
            assert tuple(p.name for p in inline[user]) == names
            assert [p.document for p in inline[user]] == [DOC] * len(names)
            assert group_names[user] == tuple(
                g.name for g in uow.groups.list_for_user(user, max_items=1000).items
            )
            assert attached[user] == uow.policies.attached("user", user, max_items=1000).items
        assert group_names[users[0]] == ("alpha", "beta", "Zeta")
        assert [t.key for t in tags[users[0]]] == ["C", "a", "b"]
        assert tags[users[1]] == () and inline[users[2]] == () and attached[users[2]] == ()
        assert (
            uow.policies.attached_many("group", groups)[groups[1]]
            == uow.policies.attached("group", groups[1]).items
        )
        records = list(uow.policies.list(ACCOUNT, scope="Local").items)
        records.append(uow.policies.get(AWS_ACCOUNT, "ReadOnlyAccess"))
        versions = uow.policies.versions_many(records)
        for record in records:
            assert versions[record.id] == uow.policies.list_versions(record.id)
        assert len(versions[records[-1].id]) > 1  # (the archived ones too)
        assert [v.version_id for v in versions[policies[0]]] == ["v2", "v1"]
