"""IAM Identity Center (sso-admin): instances, permission sets, account assignments, what is
provisioned to which account, and the asynchronous request records.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_instances",
        sa.Column("arn", sa.String(length=128), nullable=False),
        sa.Column("owner_account_id", sa.String(length=12), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=True),
        sa.Column("identity_store_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("provider_suffix", sa.String(length=16), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("abac", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("arn", name=op.f("pk_sso_instances")),
        sa.UniqueConstraint("identity_store_id", name=op.f("uq_sso_instances_identity_store_id")),
        sa.UniqueConstraint("owner_account_id", name=op.f("uq_sso_instances_owner_account_id")),
    )
    with op.batch_alter_table("sso_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_instances_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "sso_permission_sets",
        sa.Column("arn", sa.String(length=160), nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=700), nullable=True),
        sa.Column("session_duration", sa.String(length=100), nullable=False),
        sa.Column("relay_state", sa.String(length=240), nullable=True),
        sa.Column("managed_policies", sa.JSON(), nullable=False),
        sa.Column("customer_policies", sa.JSON(), nullable=False),
        sa.Column("inline_policy", sa.Text(), nullable=True),
        sa.Column("boundary", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_permission_sets_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("arn", name=op.f("pk_sso_permission_sets")),
        sa.UniqueConstraint("instance_arn", "name", name=op.f("uq_sso_permission_sets_instance_arn_name")),
    )
    with op.batch_alter_table("sso_permission_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sso_permission_sets_instance_arn"), ["instance_arn"], unique=False
        )

    op.create_table(
        "sso_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=False),
        sa.Column("permission_set_arn", sa.String(length=160), nullable=False),
        sa.Column("target_id", sa.String(length=12), nullable=False),
        sa.Column("principal_type", sa.String(length=8), nullable=False),
        sa.Column("principal_id", sa.String(length=47), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_assignments_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permission_set_arn"],
            ["sso_permission_sets.arn"],
            name=op.f("fk_sso_assignments_permission_set_arn_sso_permission_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_assignments")),
        sa.UniqueConstraint(
            "permission_set_arn",
            "target_id",
            "principal_type",
            "principal_id",
            name="uq_sso_assignments_one",
        ),
    )
    with op.batch_alter_table("sso_assignments", schema=None) as batch_op:
        batch_op.create_index("ix_sso_assignments_principal", ["instance_arn", "principal_id"], unique=False)
        batch_op.create_index("ix_sso_assignments_target", ["instance_arn", "target_id"], unique=False)

    op.create_table(
        "sso_provisioned",
        sa.Column("permission_set_arn", sa.String(length=160), nullable=False),
        sa.Column("target_id", sa.String(length=12), nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=False),
        sa.Column("role_name", sa.String(length=64), nullable=False),
        sa.Column("role_path", sa.String(length=512), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("provisioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_provisioned_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permission_set_arn"],
            ["sso_permission_sets.arn"],
            name=op.f("fk_sso_provisioned_permission_set_arn_sso_permission_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("permission_set_arn", "target_id", name=op.f("pk_sso_provisioned")),
    )
    with op.batch_alter_table("sso_provisioned", schema=None) as batch_op:
        batch_op.create_index("ix_sso_provisioned_target", ["instance_arn", "target_id"], unique=False)

    op.create_table(
        "sso_requests",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("instance_arn", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=1024), nullable=True),
        sa.Column("target_id", sa.String(length=12), nullable=True),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("permission_set_arn", sa.String(length=160), nullable=True),
        sa.Column("principal_type", sa.String(length=8), nullable=True),
        sa.Column("principal_id", sa.String(length=47), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_arn"],
            ["sso_instances.arn"],
            name=op.f("fk_sso_requests_instance_arn_sso_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_sso_requests")),
    )
    with op.batch_alter_table("sso_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sso_requests_instance_kind", ["instance_arn", "kind", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sso_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_sso_requests_instance_kind")
    op.drop_table("sso_requests")
    with op.batch_alter_table("sso_provisioned", schema=None) as batch_op:
        batch_op.drop_index("ix_sso_provisioned_target")
    op.drop_table("sso_provisioned")
    with op.batch_alter_table("sso_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_sso_assignments_target")
        batch_op.drop_index("ix_sso_assignments_principal")
    op.drop_table("sso_assignments")
    with op.batch_alter_table("sso_permission_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_permission_sets_instance_arn"))
    op.drop_table("sso_permission_sets")
    with op.batch_alter_table("sso_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_instances_organization_id"))
    op.drop_table("sso_instances")
