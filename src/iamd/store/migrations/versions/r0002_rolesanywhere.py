"""IAM Roles Anywhere: trust anchors and profiles.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rolesanywhere_trust_anchors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_data", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rolesanywhere_trust_anchors_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rolesanywhere_trust_anchors")),
    )
    op.create_index(
        op.f("ix_rolesanywhere_trust_anchors_account_id"),
        "rolesanywhere_trust_anchors",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "rolesanywhere_profiles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("role_arns", sa.JSON(), nullable=False),
        sa.Column("managed_policy_arns", sa.JSON(), nullable=False),
        sa.Column("session_policy", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("require_instance_properties", sa.Boolean(), nullable=False),
        sa.Column("accept_role_session_name", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=2048), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rolesanywhere_profiles_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rolesanywhere_profiles")),
    )
    op.create_index(
        op.f("ix_rolesanywhere_profiles_account_id"), "rolesanywhere_profiles", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rolesanywhere_profiles_account_id"), table_name="rolesanywhere_profiles")
    op.drop_table("rolesanywhere_profiles")
    op.drop_index(op.f("ix_rolesanywhere_trust_anchors_account_id"), table_name="rolesanywhere_trust_anchors")
    op.drop_table("rolesanywhere_trust_anchors")
