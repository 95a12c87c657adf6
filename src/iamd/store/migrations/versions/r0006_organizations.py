"""AWS Organizations: organizations, OUs, member accounts, policies and their attachments,
CreateAccount requests, handshakes, tags, trusted access and delegated administrators.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORG = sa.String(length=64)
_ENTITY = sa.String(length=130)
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", _ORG, nullable=False),
        sa.Column("management_account_id", sa.String(length=12), nullable=False),
        sa.Column("feature_set", sa.String(length=32), nullable=False),
        sa.Column("root_id", sa.String(length=34), nullable=False),
        sa.Column("root_name", sa.String(length=128), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("resource_policy_id", _ENTITY, nullable=True),
        sa.Column("resource_policy", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["management_account_id"],
            ["accounts.id"],
            name=op.f("fk_organizations_management_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("management_account_id", name=op.f("uq_organizations_management_account_id")),
    )
    op.create_table(
        "org_units",
        sa.Column("id", sa.String(length=68), nullable=False),
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("parent_id", sa.String(length=68), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_units")),
        sa.UniqueConstraint(
            "organization_id", "parent_id", "name", name=op.f("uq_org_units_organization_id_parent_id_name")
        ),
    )
    op.create_index(op.f("ix_org_units_organization_id"), "org_units", ["organization_id"], unique=False)
    op.create_table(
        "org_members",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("parent_id", sa.String(length=68), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("joined_method", sa.String(length=16), nullable=False),
        sa.Column("joined_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_org_members_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_org_members")),
    )
    op.create_index(op.f("ix_org_members_organization_id"), "org_members", ["organization_id"], unique=False)
    op.create_table(
        "org_policy_types",
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("policy_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "policy_type", name=op.f("pk_org_policy_types")),
    )
    op.create_table(
        "org_policies",
        sa.Column("id", _ENTITY, nullable=False),
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("policy_type", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_policies")),
        sa.UniqueConstraint(
            "organization_id",
            "policy_type",
            "name",
            name=op.f("uq_org_policies_organization_id_policy_type_name"),
        ),
    )
    op.create_index(
        op.f("ix_org_policies_organization_id"), "org_policies", ["organization_id"], unique=False
    )
    op.create_table(
        "org_policy_attachments",
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("policy_id", _ENTITY, nullable=False),
        sa.Column("target_id", sa.String(length=68), nullable=False),
        sa.Column("policy_type", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "policy_id", "target_id", name=op.f("pk_org_policy_attachments")
        ),
    )
    op.create_table(
        "org_account_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("account_name", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=12), nullable=True),
        sa.Column("requested_at", _WHEN, nullable=False),
        sa.Column("completed_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_account_requests")),
    )
    op.create_index(
        op.f("ix_org_account_requests_organization_id"),
        "org_account_requests",
        ["organization_id"],
        unique=False,
    )
    op.create_table(
        "org_handshakes",
        sa.Column("id", sa.String(length=34), nullable=False),
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sender_account_id", sa.String(length=12), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=320), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("requested_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_handshakes")),
    )
    op.create_index(
        op.f("ix_org_handshakes_organization_id"), "org_handshakes", ["organization_id"], unique=False
    )
    op.create_table(
        "org_tags",
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("resource_id", _ENTITY, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "resource_id", "key", name=op.f("pk_org_tags")),
    )
    op.create_table(
        "org_service_access",
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("service_principal", sa.String(length=128), nullable=False),
        sa.Column("enabled_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "service_principal", name=op.f("pk_org_service_access")),
    )
    op.create_table(
        "org_delegated_admins",
        sa.Column("organization_id", _ORG, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("service_principal", sa.String(length=128), nullable=False),
        sa.Column("enabled_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "account_id", "service_principal", name=op.f("pk_org_delegated_admins")
        ),
    )


def downgrade() -> None:
    for table in (
        "org_delegated_admins",
        "org_service_access",
        "org_tags",
        "org_handshakes",
        "org_account_requests",
        "org_policy_attachments",
        "org_policies",
        "org_policy_types",
        "org_members",
        "org_units",
        "organizations",
    ):
        op.drop_table(table)
