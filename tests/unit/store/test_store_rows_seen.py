"""Rows a write reads again within its transaction (UnitOfWork.rows_seen): a resource's tags, a
principal's inline policies, the ids of the policies attached to it. Read once while nothing is
written; every write keeps them exact (the repository's own) or forgets them (any other); nothing
crosses transactions. Each step below compares the repository's answer with a read that never
uses them (list_many, attached, a count of the table), in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from iamd.secrets import SeededIds
from iamd.store import RetryableError, Store, UnitOfWork
from iamd.store import inline_policies as inline_module
from iamd.store import policies as policies_module
from iamd.store import tags as tags_module
from iamd.store.records import Tag
from iamd.store.schema import PolicyAttachment
from iamd.store.schema import Tag as TagRow

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Reads:
    """How many times a prepared read ran (a wrapper around its ``rows``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, prepared: Any) -> None:
        self.count = 0
        original = prepared.rows

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(prepared, "rows", counted)


@pytest.fixture
def tag_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    yield Reads(monkeypatch, tags_module._ROWS)


def _user(uow: UnitOfWork, ids: SeededIds, name: str) -> str:
    return uow.users.create(ACCOUNT, user_id=ids.user_id(), name=name, path="/", created_at=NOW).id


def _fresh_tags(uow: UnitOfWork, kind: Any, resource_id: str) -> tuple[Tag, ...]:
    """The resource's tags as the database has them now (list_many never uses rows_seen)."""
    return uow.tags.list_many(ACCOUNT, kind, [resource_id])[resource_id]


def _same(uow: UnitOfWork, kind: Any, resource_id: str) -> tuple[Tag, ...]:
    listed = uow.tags.list(ACCOUNT, kind, resource_id)
    assert listed == _fresh_tags(uow, kind, resource_id)
    assert uow.tags.count(ACCOUNT, kind, resource_id) == len(listed)
    return listed


def test_tag_writes_keep_the_tags_read_exact(store: Store, ids: SeededIds, tag_reads: Reads) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"team": "red", "Env": "dev"})
    with store.transaction() as uow:
        before = tag_reads.count
        assert _same(uow, "user", user_id) == (Tag("Env", "dev"), Tag("team", "red"))  # sorted
        # A new value and spelling (replaced in place): no read, the tags listed are the new ones.
        uow.tags.put(ACCOUNT, "user", user_id, {"TEAM": "blue"})
        assert _same(uow, "user", user_id) == (Tag("Env", "dev"), Tag("TEAM", "blue"))
        uow.tags.put(ACCOUNT, "user", user_id, {"env": "dev"})  # the value as it is: a new spelling
        assert _same(uow, "user", user_id) == (Tag("TEAM", "blue"), Tag("env", "dev"))
        assert tag_reads.count == before + 1  # the first list only
        # Removed (case-insensitively): no read either.
        uow.tags.remove(ACCOUNT, "user", user_id, ["team", "absent"])
        assert _same(uow, "user", user_id) == (Tag("env", "dev"),)
        assert tag_reads.count == before + 1
        # A new key (an insert, whose row id is unknown): read again when asked.
        uow.tags.put(ACCOUNT, "user", user_id, {"a": "1", "ENV": "prod"})
        assert _same(uow, "user", user_id) == (Tag("ENV", "prod"), Tag("a", "1"))
        assert tag_reads.count == before + 2
        # The write after the insert finds the new row (its id read again): replaced, not added.
        uow.tags.put(ACCOUNT, "user", user_id, {"A": "2"})
        assert _same(uow, "user", user_id) == (Tag("A", "2"), Tag("ENV", "prod"))
    with store.transaction(readonly=True) as uow:
        assert uow.tags.list(ACCOUNT, "user", user_id) == (Tag("A", "2"), Tag("ENV", "prod"))


def test_a_tag_write_reads_the_tags_once(store: Store, ids: SeededIds, tag_reads: Reads) -> None:
    """TagUser's path: the authorization's aws:ResourceTag and the quota read the tags, the write
    uses that read."""
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v0"})
    for value in ("v1", "v1", "v2"):  # changed, the same again, changed
        with store.transaction() as uow:
            before = tag_reads.count
            uow.tags.list(ACCOUNT, "user", user_id)
            uow.tags.count(ACCOUNT, "user", user_id)
            uow.tags.put(ACCOUNT, "user", user_id, {"k": value})
            assert tag_reads.count == before + 1
            assert _same(uow, "user", user_id) == (Tag("k", value),)


def test_any_other_write_forgets_the_tags_read(store: Store, ids: SeededIds, tag_reads: Reads) -> None:
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "v"})
    with store.transaction() as uow:
        uow.tags.list(ACCOUNT, "user", user_id)
        before = tag_reads.count
        _user(uow, ids, "bob")  # a write elsewhere: every read kept is forgotten
        # ... so a change made behind the repository's back (as a write path of its own would
        # make it, after declaring itself) is seen.
        uow.writable()
        uow.session.execute(TagRow.__table__.update().values(value="changed"))
        assert _same(uow, "user", user_id) == (Tag("k", "changed"),)
        assert tag_reads.count == before + 1
        uow.tags.list(ACCOUNT, "user", user_id)
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "changed"})
        uow.users.delete(user_id)  # DeleteUser's path: its tags go too
        assert uow.tags.list(ACCOUNT, "user", user_id) == () == _fresh_tags(uow, "user", user_id)
    with store.transaction(readonly=True) as uow:
        assert uow.tags.list(ACCOUNT, "user", user_id) == ()


def test_the_tags_read_never_cross_transactions(store: Store, ids: SeededIds) -> None:
    """A transaction run again (a lost race) starts afresh: its first attempt's write was rolled
    back, and nothing it read or wrote is remembered."""
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "old"})
    seen: list[tuple[Tag, ...]] = []

    def work(uow: UnitOfWork) -> None:
        seen.append(uow.tags.list(ACCOUNT, "user", user_id))
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "new"})
        assert uow.tags.list(ACCOUNT, "user", user_id) == (Tag("k", "new"),)
        if len(seen) == 1:
            raise RetryableError("lost a race")

    store.run(work)
    assert seen == [(Tag("k", "old"),), (Tag("k", "old"),)]
    with store.transaction(readonly=True) as uow:
        assert uow.tags.list(ACCOUNT, "user", user_id) == (Tag("k", "new"),)
    with pytest.raises(RuntimeError), store.transaction() as uow:
        uow.tags.list(ACCOUNT, "user", user_id)
        uow.tags.put(ACCOUNT, "user", user_id, {"k": "rolled back"})
        raise RuntimeError("rolled back")
    with store.transaction() as uow:
        assert _same(uow, "user", user_id) == (Tag("k", "new"),)


def test_case_sensitive_tags_healed_with_the_tags_read(store: Store, ids: SeededIds) -> None:
    """A managed policy's tags (keys compared exactly) written by an older iamd (``key_lower``
    lower-cased) are healed by the next write: the tags read before it are healed with them."""
    with store.transaction() as uow:
        policy_id = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="p", path="/", document="{}", created_at=NOW
        ).id
        uow.session.execute(
            TagRow.__table__.insert().values(
                account_id=ACCOUNT,
                resource_kind="policy",
                resource_id=policy_id,
                key="Env",
                key_lower="env",
                value="old",
            )
        )
    with store.transaction() as uow:
        assert _same(uow, "policy", policy_id) == (Tag("Env", "old"),)
        uow.tags.put(ACCOUNT, "policy", policy_id, {"env": "new", "Env": "replaced"})
        assert _same(uow, "policy", policy_id) == (Tag("Env", "replaced"), Tag("env", "new"))
        uow.tags.remove(ACCOUNT, "policy", policy_id, ["env"])
        assert _same(uow, "policy", policy_id) == (Tag("Env", "replaced"),)
        uow.tags.put(ACCOUNT, "policy", policy_id, {"Env": "again"})
        assert _same(uow, "policy", policy_id) == (Tag("Env", "again"),)
        keys = uow.session.execute(
            select(TagRow.key, TagRow.key_lower).where(TagRow.resource_id == policy_id)
        ).all()
        assert [tuple(k) for k in keys] == [("Env", "Env")]


def test_inline_policy_writes_keep_the_policies_read_exact(
    store: Store, ids: SeededIds, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = Reads(monkeypatch, inline_module._DOCUMENTS["role"])
    finds = Reads(monkeypatch, inline_module._FIND["role"])
    with store.transaction() as uow:
        role_id = uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        ).id
        uow.inline_policies.put(ACCOUNT, "role", role_id, "one", "{}")

    def fresh(uow: UnitOfWork) -> list[tuple[str, str]]:
        found = uow.inline_policies.list_many("role", [role_id])[role_id]
        return sorted((p.name, p.document) for p in found)

    def same(uow: UnitOfWork) -> list[tuple[str, str]]:
        documents = sorted(uow.inline_policies.documents("role", role_id))
        assert documents == fresh(uow)
        return documents

    with store.transaction() as uow:
        before = (reads.count, finds.count)
        assert same(uow) == [("one", "{}")]
        # PutRolePolicy's path: the size check reads them, the write finds its policy there.
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "ONE", '{"a": 1}') is False
        assert same(uow) == [("ONE", '{"a": 1}')]
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "one", '{"a": 1}') is False  # renamed
        assert same(uow) == [("one", '{"a": 1}')]
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "one", '{"a": 1}') is False  # unchanged
        assert (reads.count, finds.count) == (before[0] + 1, before[1])
        # A new policy (its row id unknown): read again when asked.
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "two", "{}") is True
        assert same(uow) == [("one", '{"a": 1}'), ("two", "{}")]
        assert reads.count == before[0] + 2
        # Deleted (an ORM delete): forgotten, read again.
        uow.inline_policies.delete("role", role_id, "ONE")
        assert same(uow) == [("two", "{}")]
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "two", "[]") is False
        assert same(uow) == [("two", "[]")]
        assert finds.count == before[1]  # every write found its policy in what was read
    with store.transaction(readonly=True) as uow:
        assert same(uow) == [("two", "[]")]
    with pytest.raises(RuntimeError), store.transaction() as uow:
        same(uow)
        uow.inline_policies.put(ACCOUNT, "role", role_id, "two", "rolled back")
        raise RuntimeError("rolled back")
    with store.transaction() as uow:
        assert same(uow) == [("two", "[]")]
    with store.transaction() as uow:
        # Without a read before, the write looks its policy up alone.
        assert uow.inline_policies.put(ACCOUNT, "role", role_id, "three", "{}") is True
        assert finds.count == before[1] + 1


def test_attaching_reads_the_attached_policies_once(
    store: Store, ids: SeededIds, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = Reads(monkeypatch, policies_module._ATTACHED["user"])
    listings = Reads(monkeypatch, policies_module._ATTACHED_IDS["user"])
    counts = Reads(monkeypatch, policies_module._COUNT_ATTACHED["user"])
    with store.transaction() as uow:
        user_id = _user(uow, ids, "alice")
        first, second, third = (
            uow.policies.create(
                ACCOUNT, policy_id=ids.policy_id(), name=name, path="/", document="{}", created_at=NOW
            ).id
            for name in ("one", "two", "three")
        )
        uow.policies.attach(first, "user", user_id, account_id=ACCOUNT)

    def fresh(uow: UnitOfWork) -> frozenset[str]:
        rows = uow.session.execute(
            select(PolicyAttachment.policy_id).where(PolicyAttachment.user_id == user_id)
        )
        return frozenset(row[0] for row in rows)

    def same(uow: UnitOfWork) -> frozenset[str]:
        attached = uow.policies.attached_ids("user", user_id)
        assert attached == fresh(uow)
        assert uow.policies.count_attached("user", user_id) == len(attached)
        assert uow.policies.is_attached(second, "user", user_id) == (second in attached)
        return attached

    with store.transaction() as uow:
        before = (lookups.count, listings.count, counts.count)
        assert same(uow) == {first}
        assert uow.policies.attach(second, "user", user_id, account_id=ACCOUNT) is True
        assert same(uow) == {first, second}
        assert uow.policies.attach(second, "user", user_id, account_id=ACCOUNT) is False
        assert (lookups.count, listings.count, counts.count) == (before[0], before[1] + 1, before[2])
        uow.policies.detach(first, "user", user_id)  # forgotten, read again
        assert same(uow) == {second}
        assert uow.policies.attach(third, "user", user_id, account_id=ACCOUNT) is True
        assert same(uow) == {second, third}
        assert listings.count == before[1] + 2
    with pytest.raises(RuntimeError), store.transaction() as uow:
        same(uow)
        uow.policies.attach(first, "user", user_id, account_id=ACCOUNT)
        raise RuntimeError("rolled back")
    with store.transaction() as uow:
        assert same(uow) == {second, third}


@pytest.mark.parametrize("kind", ["user", "role"])
def test_a_principals_find_reads_its_tags_with_it(
    store: Store, ids: SeededIds, tag_reads: Reads, kind: Any
) -> None:
    """On PostgreSQL, finding a user or role by name reads its tags in the same statement (every
    request that names one reads them, for its resource tags; a round trip saved): listing them
    then reads nothing, and they are what the database holds: none, several, and after a write
    in the same transaction. On SQLite the tags' own read follows (two statements cost less
    there), with the same answers."""
    joined = store.backend == "postgresql"

    def find(uow: UnitOfWork, name: str) -> str:
        found = uow.users.find(ACCOUNT, name) if kind == "user" else uow.roles.find(ACCOUNT, name)
        assert found is not None
        assert found.created_at == NOW  # the record's row converted (SQLite's text dates)
        return found.id

    with store.transaction() as uow:
        if kind == "user":
            principal_id = _user(uow, ids, "alice")
        else:
            principal_id = uow.roles.create(
                ACCOUNT, role_id=ids.role_id(), name="alice", path="/", trust_policy="{}", created_at=NOW
            ).id
    for tags in ({}, {"team": "red", "Env": "dev", "k": ""}):
        if tags:
            with store.transaction() as uow:
                uow.tags.put(ACCOUNT, kind, principal_id, tags)
        with store.transaction(readonly=True) as uow:
            assert find(uow, "ALICE") == principal_id
            before = tag_reads.count
            listed = uow.tags.list(ACCOUNT, kind, principal_id)
            assert tag_reads.count == before + (0 if joined else 1)  # read with the principal
            assert listed == _fresh_tags(uow, kind, principal_id)
            assert {tag.key: tag.value for tag in listed} == tags
    with store.transaction() as uow:
        uow.tags.put(ACCOUNT, kind, principal_id, {"team": "blue"})
        find(uow, "alice")  # after the write, in its transaction: it sees it
        before = tag_reads.count
        assert _same(uow, kind, principal_id) == (Tag("Env", "dev"), Tag("k", ""), Tag("team", "blue"))
        assert tag_reads.count == before  # kept by the put (SQLite), read again by the find (PostgreSQL)
    with store.transaction(readonly=True) as uow:
        assert (uow.users.find if kind == "user" else uow.roles.find)(ACCOUNT, "nobody") is None
