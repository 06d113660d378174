"""Reading the audit log back, and sealing it, for the audit tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from billing.audit.chain import seal
from billing.audit.models import AuditEntry
from billing.db.engine import Database

AUDIT = "/api/admin/audit"


async def entries(database: Database, **equal: Any) -> list[AuditEntry]:
    """Entries whose columns equal `equal`, oldest first."""
    query = select(AuditEntry).filter_by(**equal).order_by(AuditEntry.id)
    async with database.sessions() as session:
        return list(await session.scalars(query))


async def unsealed(database: Database) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))
    async with database.sessions() as session:
        return int(await session.scalar(query) or 0)


async def seal_everything(database: Database) -> None:
    await seal(database)
    assert await unsealed(database) == 0


async def empty_audit_log(database: Database) -> None:
    """PostgreSQL's test database is shared by the run (the SQLite one is a fresh copy):
    chain tests start from an empty log, and leave none behind (TRUNCATE, as the
    append-only triggers refuse DELETE)."""
    if database.dialect == "postgresql":
        async with database.engine.begin() as connection:
            await connection.execute(text("TRUNCATE audit_log"))


async def tamper(database: Database, statement: str) -> None:
    """Run `statement` as someone with the rights to bypass the append-only triggers."""
    async with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            await connection.execute(text("SET LOCAL session_replication_role = replica"))
            await connection.execute(text(statement))
            return
        triggers = ("audit_log_seal_only", "audit_log_no_delete")
        definitions = [
            await connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": name}
            )
            for name in triggers
        ]
        for name in triggers:
            await connection.execute(text(f"DROP TRIGGER {name}"))
        await connection.execute(text(statement))
        for definition in definitions:
            await connection.execute(text(definition))
