"""The audit log's hash chain: sealed once committed, never forked, and any tampering
named by `billing verify-ledger`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from billing.audit import chain
from billing.audit import service as audit
from billing.audit.chain import GENESIS, entry_hash, seal, verify_chain
from billing.audit.models import AuditEntry
from billing.compliance.jobs import periodic_jobs
from billing.core import correlation
from billing.core.config import Settings
from billing.credits.accounts import ADMIN_GRANT, SPEND
from billing.credits.service import post
from billing.credits.transfers import Transfer
from billing.credits.verify import AUDIT_CHAIN, verify_ledger
from billing.db.engine import Database
from billing.runtime.cli import app
from billing.webhooks.worker import worker_task
from tests.support.audit import (
    empty_audit_log,
    entries,
    seal_everything,
    tamper,
    unsealed,
)

runner = CliRunner()


@pytest.fixture
async def log(settings: Settings) -> AsyncIterator[Database]:
    """The database with an empty audit log, emptied again afterwards (PostgreSQL's is
    shared by the run; a tampered chain must not outlive its test)."""
    database = Database(settings)
    await empty_audit_log(database)
    yield database
    await empty_audit_log(database)
    await database.dispose()


async def note(database: Database, action: str, user_id: int | None = None) -> None:
    async with database.sessions() as session, session.begin():
        await audit.record(session, actor="test", action=action, target="t", user_id=user_id)


async def three_postings(database: Database) -> None:
    for transfer in (
        Transfer(ADMIN_GRANT, 7, 100, actor="admin:1"),
        Transfer(SPEND, 7, 30, actor="user:7"),
        Transfer(SPEND, 7, 20, actor="user:7"),
    ):
        await post(database, transfer)


async def assert_linear(database: Database) -> None:
    """Every entry sealed, seq 1..N, each linked to the one before and hashing itself."""
    rows = sorted(await entries(database), key=lambda row: row.seq or 0)
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    previous = GENESIS
    for row in rows:
        assert row.prev_hash == previous
        assert row.hash == entry_hash(row, row.seq or 0, previous)
        previous = row.hash
    async with database.sessions() as session, session.begin():
        report = await verify_ledger(session)
    assert report.ok, report.failures
    assert (report.chain.sealed, report.chain.head_hash) == (len(rows), previous)


async def test_sealing_chains_committed_entries_in_order(log: Database) -> None:
    await three_postings(log)
    assert await seal(log) == 3
    assert [(row.seq, row.action) for row in await entries(log)] == [
        (1, "credit.admin_grant"),
        (2, "credit.spend"),
        (3, "credit.spend"),
    ]
    await note(log, "test.later")
    assert await seal(log) == 1
    assert await seal(log) == 0
    await assert_linear(log)


async def test_sealing_goes_in_transactions_of_a_bounded_size(
    log: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each transaction seals at most a batch (on SQLite its own size: its sealer runs on
    the loop's thread, in the one write turn); the chain is the same."""
    monkeypatch.setattr(chain, "SEAL_BATCH", 100)
    monkeypatch.setattr(chain, "SEAL_BATCH_SQLITE", 60)
    for n in range(250):
        await note(log, f"n{n}")
    sizes: list[int] = []
    real = chain._seal_batch

    async def counted(database: Database, limit: int) -> int:
        sizes.append(sealed := await real(database, limit))
        return sealed

    monkeypatch.setattr(chain, "_seal_batch", counted)
    assert await seal(log) == 250
    batch = 60 if log.dialect == "sqlite" else 100
    assert sizes == [batch] * (250 // batch) + [250 % batch]
    await assert_linear(log)


async def test_a_rolled_back_entry_leaves_no_gap_in_the_chain(log: Database) -> None:
    await note(log, "test.kept")
    async with log.sessions() as session:
        await session.begin()
        await audit.record(session, actor="test", action="test.dropped", target="t")
        await session.rollback()
    await note(log, "test.kept")
    await seal_everything(log)
    assert [(row.seq, row.action) for row in await entries(log)] == [
        (1, "test.kept"),
        (2, "test.kept"),
    ]
    await assert_linear(log)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'mallory'",
        "UPDATE audit_log SET seq = seq + 10",
        "UPDATE audit_log SET hash = NULL",
        "UPDATE audit_log SET seq = id + 1000, hash = 'x', caller_request_id = 'mallory'",
        "DELETE FROM audit_log",
    ],
)
async def test_the_database_refuses_any_change_but_sealing(log: Database, statement: str) -> None:
    await note(log, "test.sealed")
    await seal_everything(log)
    await note(log, "test.unsealed")
    for scope in ("seq IS NOT NULL", "seq IS NULL"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with log.engine.begin() as connection:
                await connection.execute(text(f"{statement} WHERE {scope}"))
    await seal_everything(log)
    await assert_linear(log)


# Two entries as sealed before entries had a caller's request id: their hashes were
# computed then, by the hashing of that time, and are pinned here.
OLD_TIME = datetime(2026, 11, 30, 9, 15, 42, 123456, tzinfo=UTC)
OLD_GRANT = {"amount": 100, "balance_after": 100, "reference": None, "transaction_id": 5}
SEALED_BEFORE = [
    {
        "id": 900_000_001,
        "created_at": OLD_TIME,
        "actor": "admin:1",
        "action": "credit.admin_grant",
        "target": "user:7",
        "user_id": 7,
        "request_id": "forged-123",
        "details": OLD_GRANT,
        "seq": 1,
        "prev_hash": GENESIS,
        "hash": "adf52e2c4cef8769f8fd34a9c3aff3b2b35996a0c858492ef86cf9825ec9592e",
    },
    {
        "id": 900_000_002,
        "created_at": OLD_TIME,
        "actor": "stripe",
        "action": "payment.updated",
        "target": "pi_123",
        "user_id": 7,
        "request_id": "evt_123",
        "details": {"changes": {"status": ["processing", "succeeded"]}},
        "seq": 2,
        "prev_hash": "adf52e2c4cef8769f8fd34a9c3aff3b2b35996a0c858492ef86cf9825ec9592e",
        "hash": "a42b98bdf0aadc62a203a2a36ff68d1de9d717f5304870dcf1306e9b2089e473",
    },
]


async def test_entries_sealed_before_caller_ids_still_verify_and_the_chain_goes_on(
    log: Database,
) -> None:
    async with log.sessions() as session, session.begin():
        await session.execute(insert(AuditEntry), SEALED_BEFORE)
    with correlation.bound("0123456789abcdef0123456789abcdef", "forged-123"):
        await note(log, "test.after")
    await seal_everything(log)
    old_grant, old_payment, after = sorted(await entries(log), key=lambda row: row.seq or 0)
    assert [old_grant.hash, old_payment.hash] == [row["hash"] for row in SEALED_BEFORE]
    assert (old_grant.caller_request_id, old_payment.caller_request_id) == (None, None)
    assert (after.seq, after.prev_hash, after.caller_request_id) == (
        3,
        old_payment.hash,
        "forged-123",
    )
    await assert_linear(log)


async def test_an_entry_committed_late_takes_the_next_place_in_the_chain(log: Database) -> None:
    if log.dialect != "postgresql":
        pytest.skip("SQLite has one writer: no entry commits while another is open")
    for outcome in ("commit", "rollback"):
        async with log.sessions() as slow:
            await slow.begin()
            await audit.record(slow, actor="test", action=f"test.slow.{outcome}", target="t")
            await note(log, f"test.fast.{outcome}")
            assert await seal(log) == 1  # the fast one: the open one is not committed
            await (slow.commit() if outcome == "commit" else slow.rollback())
        await seal_everything(log)
    assert [row.action for row in sorted(await entries(log), key=lambda r: r.seq or 0)] == [
        "test.fast.commit",
        "test.slow.commit",
        "test.fast.rollback",
    ]
    await assert_linear(log)


async def test_concurrent_appends_and_sealers_keep_one_linear_chain(log: Database) -> None:
    """Postings by many connections at once while several sealers run: one chain."""
    appended = asyncio.Event()

    async def postings(user_id: int) -> None:
        for amount in range(1, 11):
            await post(log, Transfer(ADMIN_GRANT, user_id, amount, actor="test"))
            await note(log, "test.noted", user_id)

    async def sealer() -> None:
        while not appended.is_set():
            await seal(log, batch=7)
            await asyncio.sleep(0)

    sealers = [asyncio.create_task(sealer()) for _ in range(4)]
    await asyncio.gather(*(postings(user_id) for user_id in range(100, 116)))
    appended.set()
    await asyncio.gather(*sealers)
    await seal_everything(log)
    assert len(await entries(log)) == 16 * 20
    await assert_linear(log)


async def test_the_worker_seals_what_commits_while_it_runs(
    log: Database, settings: Settings
) -> None:
    async with worker_task(
        settings, log, None, asyncio.Event(), periodic_jobs(settings, log)
    ) as task:
        assert task is not None
        await note(log, "test.noted")
        for _ in range(100):
            if not await unsealed(log):
                break
            await asyncio.sleep(0.1)
    assert await unsealed(log) == 0
    await assert_linear(log)


def invoke(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = {
        "DATABASE_URL": database_url,
        "BILLING_DATA_DIR": str(tmp_path),
        "BILLING_ENV": "development",
    }
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


async def test_verify_ledger_seals_and_prints_the_chains_head(
    log: Database, database_url: str, tmp_path: Path
) -> None:
    await three_postings(log)
    await note(log, "test.noted")
    code, out, err = await asyncio.to_thread(invoke, database_url, tmp_path, "verify-ledger")
    assert code == 0, err
    [head] = [row for row in await entries(log) if row.seq == 4]
    assert f"audit log: 4 entries chained, head seq 4 hash {head.hash}" in out
    assert await unsealed(log) == 0


@pytest.mark.ledger_tampered
@pytest.mark.parametrize(
    ("statement", "broken", "reason"),
    [
        (
            "UPDATE audit_log SET details = '{\"amount\": 3}' WHERE seq = 2",
            2,
            "its hash does not match its contents",
        ),
        (
            "UPDATE audit_log SET actor = 'user:8' WHERE seq = 3",
            3,
            "its hash does not match its contents",
        ),
        ("UPDATE audit_log SET created_at = created_at - interval '1 day' WHERE seq = 2", 2, ""),
        ("DELETE FROM audit_log WHERE seq = 2", 3, "seq 3 where 2 was due: entries are missing"),
        (
            "UPDATE audit_log SET caller_request_id = 'someone-else' WHERE seq = 4",
            4,
            "its hash does not match its contents",
        ),
        (
            "UPDATE audit_log SET caller_request_id = NULL WHERE seq = 4",
            4,
            "its hash does not match its contents",
        ),
        (
            "UPDATE audit_log SET caller_request_id = 'added-later' WHERE seq = 2",
            2,
            "its hash does not match its contents",
        ),
        (
            "UPDATE audit_log SET hash = prev_hash WHERE seq = 1",
            1,
            "its hash does not match its contents",
        ),
    ],
)
async def test_verify_ledger_names_the_first_tampered_entry(
    log: Database,
    database_url: str,
    tmp_path: Path,
    statement: str,
    broken: int,
    reason: str,
) -> None:
    await three_postings(log)
    with correlation.bound("0123456789abcdef0123456789abcdef", "trace-1"):
        await note(log, "test.noted")  # seq 4, with a caller's id
    await seal_everything(log)
    if log.dialect == "sqlite":
        statement = statement.replace("created_at - interval '1 day'", "'2020-01-01 00:00:00'")
    await tamper(log, statement)
    [named] = [row for row in await entries(log) if row.seq == broken]

    code, out, err = await asyncio.to_thread(invoke, database_url, tmp_path, "verify-ledger")
    assert code == 1
    assert f"{AUDIT_CHAIN}: ids [{named.id}]" in err
    assert f"chain broken at entry id {named.id} (seq {broken}): {reason}" in out
    async with log.sessions() as session, session.begin():
        report = await verify_chain(session)
    assert report.broken is not None
    assert report.broken.id == named.id
    assert report.head_seq < broken
