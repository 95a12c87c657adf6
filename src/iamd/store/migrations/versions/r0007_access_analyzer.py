"""IAM Access Analyzer: analyzers, archive rules, findings (with their recommendations) and policy
generation jobs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 21:07:15.553406
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "aa_analyzers",
        sa.Column("arn", sa.String(length=1024), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("client_token", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_resource_analyzed", sa.String(length=2048), nullable=True),
        sa.Column("last_resource_analyzed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("arn", name=op.f("pk_aa_analyzers")),
        sa.UniqueConstraint(
            "account_id", "region", "name", name=op.f("uq_aa_analyzers_account_id_region_name")
        ),
    )
    with op.batch_alter_table("aa_analyzers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aa_analyzers_account_id"), ["account_id"], unique=False)

    op.create_table(
        "aa_policy_generations",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_arn", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_on", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client_token", sa.String(length=128), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_aa_policy_generations")),
    )
    with op.batch_alter_table("aa_policy_generations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aa_policy_generations_account_id"), ["account_id"], unique=False)

    op.create_table(
        "aa_archive_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("analyzer_arn", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["analyzer_arn"],
            ["aa_analyzers.arn"],
            name=op.f("fk_aa_archive_rules_analyzer_arn_aa_analyzers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aa_archive_rules")),
        sa.UniqueConstraint("analyzer_arn", "name", name=op.f("uq_aa_archive_rules_analyzer_arn_name")),
    )
    with op.batch_alter_table("aa_archive_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aa_archive_rules_analyzer_arn"), ["analyzer_arn"], unique=False)

    op.create_table(
        "aa_findings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("analyzer_arn", sa.String(length=1024), nullable=False),
        sa.Column("identity", sa.String(length=255), nullable=False),
        sa.Column("finding_type", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=2048), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_owner_account", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("analyzed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recommendation", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analyzer_arn"],
            ["aa_analyzers.arn"],
            name=op.f("fk_aa_findings_analyzer_arn_aa_analyzers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aa_findings")),
    )
    with op.batch_alter_table("aa_findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aa_findings_analyzer_arn"), ["analyzer_arn"], unique=False)
        batch_op.create_index("ix_aa_findings_analyzer_identity", ["analyzer_arn", "identity"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("aa_findings", schema=None) as batch_op:
        batch_op.drop_index("ix_aa_findings_analyzer_identity")
        batch_op.drop_index(batch_op.f("ix_aa_findings_analyzer_arn"))

    op.drop_table("aa_findings")
    with op.batch_alter_table("aa_archive_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aa_archive_rules_analyzer_arn"))

    op.drop_table("aa_archive_rules")
    with op.batch_alter_table("aa_policy_generations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aa_policy_generations_account_id"))

    op.drop_table("aa_policy_generations")
    with op.batch_alter_table("aa_analyzers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aa_analyzers_account_id"))

    op.drop_table("aa_analyzers")
