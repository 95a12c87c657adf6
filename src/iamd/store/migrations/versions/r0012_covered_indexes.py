"""Drop the single-column indexes that a unique constraint's index begins with (the account of a
row named uniquely in it: users, roles, groups, managed policies...). The unique index serves the
lookups by that column alone too. The second index only cost every insert, and let PostgreSQL's
planner, before it had statistics on a table (a new database; autovacuum off), look a row up by
account and name through the narrower one, filtering every row of the account: a lookup of one
of the AWS account's 1,582 managed policies by name took 0.2-0.4 ms instead of 0.03.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED: tuple[tuple[str, str], ...] = (
    ("managed_policies", "account_id"),
    ("users", "account_id"),
    ("groups", "account_id"),
    ("roles", "account_id"),
    ("mfa_devices", "account_id"),
    ("instance_profiles", "account_id"),
    ("oidc_providers", "account_id"),
    ("saml_providers", "account_id"),
    ("server_certificates", "account_id"),
    ("rolesanywhere_subjects", "account_id"),
    ("org_units", "organization_id"),
    ("org_policies", "organization_id"),
    ("aa_analyzers", "account_id"),
    ("aa_archive_rules", "analyzer_arn"),
    ("aa_findings", "analyzer_arn"),
    ("sso_permission_sets", "instance_arn"),
    ("ids_users", "store_id"),
    ("ids_groups", "store_id"),
    ("ids_external_ids", "store_id"),
    ("ids_mfa_devices", "store_id"),
)
"""(table, column) whose index ``ix_<table>_<column>`` a unique constraint of the table covers."""


def upgrade() -> None:
    for table, column in COVERED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, column in COVERED:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
