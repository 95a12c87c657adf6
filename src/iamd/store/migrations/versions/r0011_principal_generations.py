"""Generation counters scoped to principals: the account's ``shared_generation`` (every change but
those scoped to one user or role) and each user's and role's ``generation`` (the changes scoped to
it), so that a write to one principal leaves the other callers' cached authentication and policies
valid (iamd.store.unit.UnitOfWork.principal_scoped).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("shared_generation", sa.BigInteger(), server_default="0", nullable=False)
    )
    # Start where the account's generation is (any value works: every cache starts empty).
    op.execute(sa.text("UPDATE accounts SET shared_generation = generation"))
    op.add_column("users", sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("roles", sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("generation")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("generation")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("shared_generation")
