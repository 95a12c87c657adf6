"""Accounts, password policies, credential reports, GetAccountSummary, tags, identity providers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iamd.secrets import SeededIds
from iamd.store import AlreadyExists, Conflict, NotFound, Store
from iamd.store.records import PasswordPolicyRecord, Tag
from iamd.store.schema import Tag as TagRow

ACCOUNT = "111122223333"  # created by the store fixture (conftest.py)
OTHER_ACCOUNT = "444455556666"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_accounts(store: Store) -> None:
    with store.transaction() as uow:
        assert [a.id for a in uow.accounts.list()] == [ACCOUNT, OTHER_ACCOUNT]
        main = uow.accounts.get(ACCOUNT)
        assert (main.name, main.email, main.status, main.created_at) == (
            "main",
            "root@example.com",
            "ACTIVE",
            NOW,
        )
        with pytest.raises(AlreadyExists):
            uow.accounts.create(ACCOUNT, name="again", created_at=NOW)
        with pytest.raises(NotFound):
            uow.accounts.get("999999999999")


def test_root_email_lookup_ignores_case(store: Store) -> None:
    with store.transaction() as uow:
        for written in ("root@example.com", " ROOT@Example.COM "):
            found = uow.accounts.find_by_email(written)
            assert found is not None and found.id == ACCOUNT
        assert uow.accounts.find_by_email("someone@example.com") is None


def test_aliases_are_unique_across_accounts(store: Store) -> None:
    with store.transaction() as uow:
        uow.accounts.set_alias(ACCOUNT, "acme")
        uow.accounts.set_alias(ACCOUNT, "acme")  # its own alias again: fine
        with pytest.raises(AlreadyExists):
            uow.accounts.set_alias(OTHER_ACCOUNT, "acme")
    with store.transaction() as uow:
        found = uow.accounts.find_by_alias("acme")
        assert found is not None and found.id == ACCOUNT
        uow.accounts.set_alias(ACCOUNT, None)
        uow.accounts.set_alias(OTHER_ACCOUNT, "acme")


def test_root_password_and_organization(store: Store) -> None:
    with store.transaction() as uow:
        uow.accounts.set_root_password(ACCOUNT, "$argon2id$hash", NOW)
        uow.accounts.record_root_password_use(ACCOUNT, NOW + timedelta(hours=1))
        uow.accounts.record_root_password_use(ACCOUNT, NOW)  # older: ignored
        uow.accounts.set_organization(
            ACCOUNT, "o-abc123", role="management", joined_method="CREATED", joined_at=NOW
        )
    with store.transaction(readonly=True) as uow:
        account = uow.accounts.get(ACCOUNT)
        assert account.root_password_hash == "$argon2id$hash"
        assert account.root_password_last_used == NOW + timedelta(hours=1)
        assert (account.organization_id, account.organization_role, account.joined_method) == (
            "o-abc123",
            "management",
            "CREATED",
        )
        assert uow.accounts.summary(ACCOUNT).account_password_present is True
        assert uow.accounts.summary(OTHER_ACCOUNT).account_password_present is False


def test_password_policy(store: Store) -> None:
    policy = PasswordPolicyRecord(
        minimum_length=14, require_symbols=True, max_age_days=90, reuse_prevention=5
    )
    with store.transaction() as uow:
        assert uow.accounts.password_policy(ACCOUNT) is None
        uow.accounts.put_password_policy(ACCOUNT, policy)
        assert uow.accounts.password_policy(ACCOUNT) == policy
        uow.accounts.put_password_policy(ACCOUNT, PasswordPolicyRecord())
        assert uow.accounts.password_policy(ACCOUNT) == PasswordPolicyRecord()
        uow.accounts.delete_password_policy(ACCOUNT)
        assert uow.accounts.password_policy(ACCOUNT) is None
        with pytest.raises(NotFound):
            uow.accounts.delete_password_policy(ACCOUNT)


def test_credential_report_is_replaced(store: Store) -> None:
    with store.transaction() as uow:
        assert uow.accounts.credential_report(ACCOUNT) is None
        uow.accounts.put_credential_report(ACCOUNT, NOW, b"user,arn\n")
        uow.accounts.put_credential_report(ACCOUNT, NOW + timedelta(hours=5), b"user,arn\nx,y\n")
    with store.transaction(readonly=True) as uow:
        report = uow.accounts.credential_report(ACCOUNT)
    assert report is not None and (report.generated_at, report.content) == (
        NOW + timedelta(hours=5),
        b"user,arn\nx,y\n",
    )


def test_summary_counts(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        users = [
            uow.users.create(ACCOUNT, user_id=ids.user_id(), name=f"u{i}", path="/", created_at=NOW).id
            for i in range(3)
        ]
        uow.users.create(OTHER_ACCOUNT, user_id=ids.user_id(), name="elsewhere", path="/", created_at=NOW)
        group = uow.groups.create(ACCOUNT, group_id=ids.group_id(), name="g", path="/", created_at=NOW).id
        uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        )
        policy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="p", path="/", document="{}", created_at=NOW
        )
        uow.policies.attach(policy.id, "user", users[0], account_id=ACCOUNT)
        uow.policies.attach(policy.id, "group", group, account_id=ACCOUNT)
        uow.instance_profiles.create(
            ACCOUNT, profile_id=ids.instance_profile_id(), name="ip", path="/", created_at=NOW
        )
        uow.oidc_providers.create(
            ACCOUNT,
            url="https://token.example.com",
            url_key="token.example.com",
            client_ids=["a"],
            thumbprints=[],
            created_at=NOW,
        )
        uow.saml_providers.create(ACCOUNT, name="idp", metadata_document="<xml/>", created_at=NOW)
        assigned = uow.mfa.create(ACCOUNT, serial="m1", kind="virtual", created_at=NOW, seed=b"s")
        uow.mfa.create(ACCOUNT, serial="m2", kind="virtual", created_at=NOW, seed=b"s")
        uow.mfa.enable(assigned.id, user_id=users[1], enabled_at=NOW)
        uow.access_keys.create(
            ACCOUNT, key_id=ids.access_key_id(), user_id=None, secret_access_key="s", created_at=NOW
        )
    with store.transaction(readonly=True) as uow:
        summary = uow.accounts.summary(ACCOUNT)
    assert (summary.users, summary.groups, summary.roles, summary.policies) == (3, 1, 1, 1)
    assert (summary.policy_versions_in_use, summary.instance_profiles, summary.providers) == (2, 1, 2)
    assert (summary.mfa_devices, summary.mfa_devices_in_use, summary.server_certificates) == (2, 1, 0)
    assert summary.account_access_keys_present is True
    assert summary.account_mfa_enabled is False and summary.account_signing_certificates_present is False


# -- tags -----------------------------------------------------------------------------------------


def test_tags_keys_are_unique_case_insensitively(store: Store, ids: SeededIds) -> None:
    with store.transaction() as uow:
        role = uow.roles.create(
            ACCOUNT, role_id=ids.role_id(), name="r", path="/", trust_policy="{}", created_at=NOW
        )
        uow.tags.put(ACCOUNT, "role", role.id, {"Team": "red", "env": "prod"})
        uow.tags.put(ACCOUNT, "role", role.id, {"TEAM": "blue"})  # same key: replaced, new spelling
        # Listed by key, code point by code point, as AWS lists them: "TEAM" before "env".
        assert uow.tags.list(ACCOUNT, "role", role.id) == (Tag("TEAM", "blue"), Tag("env", "prod"))
        assert uow.tags.count(ACCOUNT, "role", role.id) == 2
        with pytest.raises(Conflict):
            uow.tags.put(ACCOUNT, "role", role.id, {"a": "1", "A": "2"})
        uow.tags.remove(ACCOUNT, "role", role.id, ["team", "absent"])
        assert uow.tags.list(ACCOUNT, "role", role.id) == (Tag("env", "prod"),)
        assert uow.tags.list(OTHER_ACCOUNT, "role", role.id) == ()


def test_managed_policy_tag_keys_are_case_sensitive(store: Store, ids: SeededIds) -> None:
    """A managed policy carries "a" and "A" side by side and untagging "a" leaves "A" (recorded
    against AWS: LocalStack's tests/aws/services/iam/test_iam_policies.snapshot.json,
    create-with-case-sensitive-tags, list-after-untag-lowercase). Tags written before exact keys
    (``key_lower`` lower-cased) are healed on the next write."""
    with store.transaction() as uow:
        policy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="p", path="/", document="{}", created_at=NOW
        )
        uow.tags.put(ACCOUNT, "policy", policy.id, {"a": "lowercase", "A": "uppercase"})
        assert uow.tags.list(ACCOUNT, "policy", policy.id) == (Tag("A", "uppercase"), Tag("a", "lowercase"))
        uow.tags.remove(ACCOUNT, "policy", policy.id, ["a"])
        assert uow.tags.list(ACCOUNT, "policy", policy.id) == (Tag("A", "uppercase"),)

        # A tag as an older iamd wrote it: key "Env", key_lower "env".
        legacy = uow.policies.create(
            ACCOUNT, policy_id=ids.policy_id(), name="legacy", path="/", document="{}", created_at=NOW
        )
        uow.session.execute(
            TagRow.__table__.insert().values(
                account_id=ACCOUNT,
                resource_kind="policy",
                resource_id=legacy.id,
                key="Env",
                key_lower="env",
                value="old",
            )
        )
        uow.tags.put(ACCOUNT, "policy", legacy.id, {"env": "new", "Env": "replaced"})
        assert uow.tags.list(ACCOUNT, "policy", legacy.id) == (Tag("Env", "replaced"), Tag("env", "new"))


# -- identity providers ---------------------------------------------------------------------------


def test_oidc_providers(store: Store) -> None:
    with store.transaction() as uow:
        created = uow.oidc_providers.create(
            ACCOUNT,
            url="https://token.actions.githubusercontent.com",
            url_key="token.actions.githubusercontent.com",
            client_ids=["sts.amazonaws.com"],
            thumbprints=["a" * 40],
            created_at=NOW,
        )
        with pytest.raises(AlreadyExists):
            uow.oidc_providers.create(
                ACCOUNT,
                url="https://token.actions.githubusercontent.com",
                url_key="token.actions.githubusercontent.com",
                client_ids=[],
                thumbprints=[],
                created_at=NOW,
            )
        uow.tags.put(ACCOUNT, "oidc-provider", str(created.id), {"k": "v"})
    with store.transaction() as uow:
        got = uow.oidc_providers.get(ACCOUNT, "token.actions.githubusercontent.com")
        assert (got.client_ids, got.thumbprints) == (("sts.amazonaws.com",), ("a" * 40,))
        updated = uow.oidc_providers.update(created.id, client_ids=["sts.amazonaws.com", "x"], thumbprints=[])
        assert (updated.client_ids, updated.thumbprints) == (("sts.amazonaws.com", "x"), ())
        assert [p.url for p in uow.oidc_providers.list(ACCOUNT)] == [
            "https://token.actions.githubusercontent.com"
        ]
        uow.oidc_providers.delete(created.id)
        assert uow.oidc_providers.list(ACCOUNT) == ()
        assert uow.tags.list(ACCOUNT, "oidc-provider", str(created.id)) == ()


def test_saml_providers(store: Store) -> None:
    with store.transaction() as uow:
        created = uow.saml_providers.create(ACCOUNT, name="Okta", metadata_document="<md/>", created_at=NOW)
        with pytest.raises(AlreadyExists):
            uow.saml_providers.create(ACCOUNT, name="okta", metadata_document="<md/>", created_at=NOW)
    with store.transaction() as uow:
        updated = uow.saml_providers.update(created.id, metadata_document="<md2/>", valid_until=NOW)
        assert (updated.metadata_document, updated.valid_until) == ("<md2/>", NOW)
        assert uow.saml_providers.get(ACCOUNT, "OKTA").id == created.id
        assert [p.name for p in uow.saml_providers.list(ACCOUNT)] == ["Okta"]
        uow.saml_providers.delete(created.id)
        with pytest.raises(NotFound):
            uow.saml_providers.get(ACCOUNT, "Okta")
