"""Baselines (``iamd serve --test-mode``'s reset): capture the accounts' own rows, restore them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.store.helpers import audit_event

from iamd.secrets import SeededIds
from iamd.store import AWS_ACCOUNT, Store
from iamd.store.baseline import KEPT_TABLES, reset_tables
from iamd.store.schema import Base

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


def test_every_table_is_either_reset_or_kept_on_purpose() -> None:
    reset = {t.name for t in reset_tables()}
    assert reset | KEPT_TABLES == set(Base.metadata.tables)
    assert not reset & KEPT_TABLES
    assert "managed_policies" in reset and "trail_events" not in reset


def test_restore_puts_back_the_accounts_rows_and_keeps_the_rest(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        # An AWS managed policy (shared by every account, in the pseudo-account "aws").
        shared = uow.policies.create(
            AWS_ACCOUNT, policy_id=ids.policy_id(), name="Shared", path="/", document=DOCUMENT, created_at=NOW
        )
        admin = uow.users.create(ACCOUNT, user_id=ids.user_id(), name="admin", path="/", created_at=NOW)
        key_id, secret = ids.access_key_id(), ids.secret_access_key()
        uow.access_keys.create(
            ACCOUNT, key_id=key_id, user_id=admin.id, secret_access_key=secret, created_at=NOW
        )
        uow.policies.attach(shared.id, "user", admin.id, account_id=ACCOUNT)
    with store.transaction(readonly=True) as uow:
        baseline = uow.baselines.capture()
        before = uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT, AWS_ACCOUNT])

    with store.transaction() as uow:
        bob = uow.users.create(ACCOUNT, user_id=ids.user_id(), name="bob", path="/", created_at=NOW)
        policy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="mine", path="/", document=DOCUMENT, created_at=NOW
        )
        uow.policies.attach(policy.id, "user", bob.id, account_id=ACCOUNT)
        uow.users.create(OTHER_ACCOUNT, user_id=ids.user_id(), name="carol", path="/", created_at=NOW)
        uow.accounts.set_alias(ACCOUNT, "renamed")
        uow.accounts.create("777788889999", name="later", created_at=NOW)
        uow.audit.add_events([audit_event("e-before-reset")])

    with store.transaction() as uow:
        uow.baselines.restore(baseline)

    with store.transaction(readonly=True) as uow:
        assert [u.name for u in uow.users.list(ACCOUNT).items] == ["admin"]
        assert uow.users.list(OTHER_ACCOUNT).items == ()
        assert uow.policies.find(ACCOUNT, "mine") is None
        assert uow.accounts.get(ACCOUNT).alias is None
        assert [a.id for a in uow.accounts.list()] == [ACCOUNT, OTHER_ACCOUNT]
        signing = uow.access_keys.signing_key(key_id)
        assert signing is not None and signing.secret_access_key == secret  # the same key, usable
        # Generations only go up: caches keyed by them (on every node) see the reset.
        after = uow.accounts.generations([ACCOUNT, OTHER_ACCOUNT, AWS_ACCOUNT])
        assert after[ACCOUNT] > before[ACCOUNT] and after[OTHER_ACCOUNT] > before[OTHER_ACCOUNT]
        assert after[AWS_ACCOUNT] == before[AWS_ACCOUNT]
        # The AWS managed policy (still attached to the admin) and the trail stay.
        assert [p.name for p in uow.policies.list(ACCOUNT, scope="AWS").items] == ["Shared"]
        assert [p.name for p in uow.policies.list(ACCOUNT, only_attached=True).items] == ["Shared"]
        assert [e.event_id for e in uow.audit.events(account_id=ACCOUNT)] == ["e-before-reset"]

    # Twice in a row: the same state again.
    with store.transaction() as uow:
        uow.baselines.restore(baseline)
    with store.transaction(readonly=True) as uow:
        assert [u.name for u in uow.users.list(ACCOUNT).items] == ["admin"]
