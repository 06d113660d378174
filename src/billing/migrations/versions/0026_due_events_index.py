"""The events workers take, indexed in the order they take them.

Claims read `status IN ('pending', 'failed') AND next_attempt_at <= now` ordered by id.
PostgreSQL walked the primary key and filtered: every claim read the whole history of
processed events before the first waiting one (55 ms per claim over 235,000 of them).
SQLite took the index on status and sorted every waiting event: with a backlog of
300,000, 20 ms per claim of 8. Both now read a claim's rows off the front of a partial
index of the waiting events, by when they are due, then by id.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = "status IN ('pending', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_webhook_events_due",
        "webhook_events",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_due", table_name="webhook_events")
