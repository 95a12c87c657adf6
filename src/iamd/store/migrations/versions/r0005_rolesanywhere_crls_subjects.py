"""IAM Roles Anywhere: certificate revocation lists, subjects, profile attribute mappings and trust
anchor notification settings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("rolesanywhere_trust_anchors", sa.Column("notification_settings", sa.JSON(), nullable=True))
    op.add_column("rolesanywhere_profiles", sa.Column("attribute_mappings", sa.JSON(), nullable=True))
    op.create_table(
        "rolesanywhere_crls",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("trust_anchor_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("crl_data", sa.LargeBinary(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rolesanywhere_crls_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["trust_anchor_id"],
            ["rolesanywhere_trust_anchors.id"],
            name=op.f("fk_rolesanywhere_crls_trust_anchor_id_rolesanywhere_trust_anchors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rolesanywhere_crls")),
    )
    op.create_index(
        op.f("ix_rolesanywhere_crls_account_id"), "rolesanywhere_crls", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_rolesanywhere_crls_trust_anchor_id"), "rolesanywhere_crls", ["trust_anchor_id"], unique=False
    )
    op.create_table(
        "rolesanywhere_subjects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("x509_subject", sa.String(length=2048), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("instance_properties", sa.JSON(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_rolesanywhere_subjects_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rolesanywhere_subjects")),
        sa.UniqueConstraint(
            "account_id",
            "region",
            "x509_subject",
            name=op.f("uq_rolesanywhere_subjects_account_id_region_x509_subject"),
        ),
    )
    op.create_index(
        op.f("ix_rolesanywhere_subjects_account_id"), "rolesanywhere_subjects", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rolesanywhere_subjects_account_id"), table_name="rolesanywhere_subjects")
    op.drop_table("rolesanywhere_subjects")
    op.drop_index(op.f("ix_rolesanywhere_crls_trust_anchor_id"), table_name="rolesanywhere_crls")
    op.drop_index(op.f("ix_rolesanywhere_crls_account_id"), table_name="rolesanywhere_crls")
    op.drop_table("rolesanywhere_crls")
    with op.batch_alter_table("rolesanywhere_profiles") as batch:
        batch.drop_column("attribute_mappings")
    with op.batch_alter_table("rolesanywhere_trust_anchors") as batch:
        batch.drop_column("notification_settings")
