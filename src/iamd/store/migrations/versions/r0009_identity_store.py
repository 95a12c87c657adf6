"""IAM Identity Center's identity store: stores, users, groups, memberships and external ids;
users' passwords (history) and MFA devices; SCIM tokens; the external SAML IdP and the assertion
ids it used.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:26:33.101852
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ids_stores",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("instance_arn", sa.String(length=1224), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("network_configuration", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_stores")),
        sa.UniqueConstraint("instance_arn", name=op.f("uq_ids_stores_instance_arn")),
    )
    with op.batch_alter_table("ids_stores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_stores_account_id"), ["account_id"], unique=False)

    op.create_table(
        "ids_external_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.String(length=47), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=256), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_external_ids_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_external_ids")),
        sa.UniqueConstraint(
            "store_id",
            "kind",
            "issuer",
            "external_id",
            name=op.f("uq_ids_external_ids_store_id_kind_issuer_external_id"),
        ),
    )
    with op.batch_alter_table("ids_external_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_external_ids_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_external_ids_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_external_ids_store_id"), ["store_id"], unique=False)

    op.create_table(
        "ids_groups",
        sa.Column("id", sa.String(length=47), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("display_name", sa.String(length=1024), nullable=True),
        sa.Column("display_name_lower", sa.String(length=1024), nullable=True),
        sa.Column("description", sa.String(length=1024), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_groups_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_groups")),
        sa.UniqueConstraint(
            "store_id", "display_name_lower", name=op.f("uq_ids_groups_store_id_display_name_lower")
        ),
    )
    with op.batch_alter_table("ids_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_groups_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_groups_store_id"), ["store_id"], unique=False)

    op.create_table(
        "ids_saml_assertions",
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("assertion_id", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_saml_assertions_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", "assertion_id", name=op.f("pk_ids_saml_assertions")),
    )
    with op.batch_alter_table("ids_saml_assertions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_saml_assertions_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_saml_assertions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "ids_saml_idps",
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("entity_id", sa.String(length=1024), nullable=False),
        sa.Column("sso_url", sa.String(length=2048), nullable=True),
        sa.Column("certificates", sa.JSON(), nullable=False),
        sa.Column("metadata_xml", sa.Text(), nullable=False),
        sa.Column("sp_base_url", sa.String(length=2048), nullable=True),
        sa.Column("configured_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_saml_idps_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_ids_saml_idps")),
    )
    with op.batch_alter_table("ids_saml_idps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_saml_idps_account_id"), ["account_id"], unique=False)

    op.create_table(
        "ids_scim_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_scim_tokens_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_scim_tokens")),
    )
    with op.batch_alter_table("ids_scim_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_scim_tokens_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_scim_tokens_store_id"), ["store_id"], unique=False)

    op.create_table(
        "ids_users",
        sa.Column("id", sa.String(length=47), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("user_name_lower", sa.String(length=128), nullable=False),
        sa.Column("display_name", sa.String(length=1024), nullable=True),
        sa.Column("email_lower", sa.String(length=1024), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=2048), nullable=True),
        sa.Column("password_hash", sa.String(length=512), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"], ["ids_stores.id"], name=op.f("fk_ids_users_store_id_ids_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_users")),
        sa.UniqueConstraint("store_id", "email_lower", name=op.f("uq_ids_users_store_id_email_lower")),
        sa.UniqueConstraint(
            "store_id", "user_name_lower", name=op.f("uq_ids_users_store_id_user_name_lower")
        ),
    )
    with op.batch_alter_table("ids_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_users_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_users_store_id"), ["store_id"], unique=False)

    op.create_table(
        "ids_memberships",
        sa.Column("id", sa.String(length=47), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("group_id", sa.String(length=47), nullable=False),
        sa.Column("user_id", sa.String(length=47), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["ids_groups.id"],
            name=op.f("fk_ids_memberships_group_id_ids_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_memberships_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ids_users.id"],
            name=op.f("fk_ids_memberships_user_id_ids_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_memberships")),
        sa.UniqueConstraint("group_id", "user_id", name=op.f("uq_ids_memberships_group_id_user_id")),
    )
    with op.batch_alter_table("ids_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_memberships_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_memberships_store_id"), ["store_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ids_mfa_devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=47), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seed_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("last_totp_counter", sa.BigInteger(), nullable=True),
        sa.Column("credential_id", sa.LargeBinary(), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.Column("sign_count", sa.BigInteger(), nullable=True),
        sa.Column("transports", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["ids_stores.id"],
            name=op.f("fk_ids_mfa_devices_store_id_ids_stores"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ids_users.id"],
            name=op.f("fk_ids_mfa_devices_user_id_ids_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_mfa_devices")),
        sa.UniqueConstraint(
            "store_id", "credential_id", name=op.f("uq_ids_mfa_devices_store_id_credential_id")
        ),
    )
    with op.batch_alter_table("ids_mfa_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_mfa_devices_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_mfa_devices_store_id"), ["store_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_mfa_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "ids_password_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_id", sa.String(length=47), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["ids_users.id"],
            name=op.f("fk_ids_password_history_user_id_ids_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ids_password_history")),
    )
    with op.batch_alter_table("ids_password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ids_password_history_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ids_password_history_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ids_password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_password_history_user_id"))
        batch_op.drop_index(batch_op.f("ix_ids_password_history_account_id"))

    op.drop_table("ids_password_history")
    with op.batch_alter_table("ids_mfa_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_mfa_devices_user_id"))
        batch_op.drop_index(batch_op.f("ix_ids_mfa_devices_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_mfa_devices_account_id"))

    op.drop_table("ids_mfa_devices")
    with op.batch_alter_table("ids_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_ids_memberships_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_memberships_account_id"))

    op.drop_table("ids_memberships")
    with op.batch_alter_table("ids_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_users_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_users_account_id"))

    op.drop_table("ids_users")
    with op.batch_alter_table("ids_scim_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_scim_tokens_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_scim_tokens_account_id"))

    op.drop_table("ids_scim_tokens")
    with op.batch_alter_table("ids_saml_idps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_saml_idps_account_id"))

    op.drop_table("ids_saml_idps")
    with op.batch_alter_table("ids_saml_assertions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_saml_assertions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_ids_saml_assertions_account_id"))

    op.drop_table("ids_saml_assertions")
    with op.batch_alter_table("ids_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_groups_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_groups_account_id"))

    op.drop_table("ids_groups")
    with op.batch_alter_table("ids_external_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_external_ids_store_id"))
        batch_op.drop_index(batch_op.f("ix_ids_external_ids_owner_id"))
        batch_op.drop_index(batch_op.f("ix_ids_external_ids_account_id"))

    op.drop_table("ids_external_ids")
    with op.batch_alter_table("ids_stores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ids_stores_account_id"))

    op.drop_table("ids_stores")
