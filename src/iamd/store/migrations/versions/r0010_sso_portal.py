"""The access portal: portal sessions, sso-oidc clients, their authorizations and bearer tokens.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:30:41.258211
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_oidc_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("client_name", sa.String(length=128), nullable=False),
        sa.Column("client_type", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("issuer_url", sa.String(length=1024), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_sso_oidc_clients")),
    )
    with op.batch_alter_table("sso_oidc_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_oidc_clients_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "sso_portal_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("secret_digest", sa.String(length=64), nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=False),
        sa.Column("store_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=47), nullable=False),
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("mfa", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_portal_sessions_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_portal_sessions")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_sso_portal_sessions_secret_digest")),
    )
    with op.batch_alter_table("sso_portal_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_portal_sessions_instance_arn"), ["instance_arn"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sso_portal_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sso_oidc_authorizations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("user_code", sa.String(length=16), nullable=True),
        sa.Column("start_url", sa.String(length=1024), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1024), nullable=True),
        sa.Column("state", sa.String(length=1024), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=True),
        sa.Column("portal_session_id", sa.String(length=36), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["sso_oidc_clients.client_id"],
            name=op.f("fk_sso_oidc_authorizations_client_id_sso_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_oidc_authorizations_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_session_id"],
            ["sso_portal_sessions.id"],
            name=op.f("fk_sso_oidc_authorizations_portal_session_id_sso_portal_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_oidc_authorizations")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_sso_oidc_authorizations_code_digest")),
        sa.UniqueConstraint("user_code", name=op.f("uq_sso_oidc_authorizations_user_code")),
    )
    with op.batch_alter_table("sso_oidc_authorizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_oidc_authorizations_client_id"), ["client_id"], unique=False)
        batch_op.create_index("ix_sso_oidc_authorizations_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "sso_oidc_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=False),
        sa.Column("refresh_digest", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("portal_session_id", sa.String(length=36), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["sso_oidc_clients.client_id"],
            name=op.f("fk_sso_oidc_tokens_client_id_sso_oidc_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_session_id"],
            ["sso_portal_sessions.id"],
            name=op.f("fk_sso_oidc_tokens_portal_session_id_sso_portal_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_oidc_tokens")),
        sa.UniqueConstraint("access_digest", name=op.f("uq_sso_oidc_tokens_access_digest")),
        sa.UniqueConstraint("refresh_digest", name=op.f("uq_sso_oidc_tokens_refresh_digest")),
    )
    with op.batch_alter_table("sso_oidc_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_oidc_tokens_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sso_oidc_tokens_portal_session_id"), ["portal_session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sso_oidc_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_oidc_tokens_portal_session_id"))
        batch_op.drop_index(batch_op.f("ix_sso_oidc_tokens_client_id"))

    op.drop_table("sso_oidc_tokens")
    with op.batch_alter_table("sso_oidc_authorizations", schema=None) as batch_op:
        batch_op.drop_index("ix_sso_oidc_authorizations_expires_at")
        batch_op.drop_index(batch_op.f("ix_sso_oidc_authorizations_client_id"))

    op.drop_table("sso_oidc_authorizations")
    with op.batch_alter_table("sso_portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_portal_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_sso_portal_sessions_instance_arn"))

    op.drop_table("sso_portal_sessions")
    with op.batch_alter_table("sso_oidc_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_oidc_clients_expires_at"))

    op.drop_table("sso_oidc_clients")
