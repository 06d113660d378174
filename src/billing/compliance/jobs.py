"""What every worker does beside the inbox: expiring grants, releasing expired holds,
retention, sealing the audit log, summarizing closed days of the ledger, sending the
platform's webhooks and charging auto top-ups."""

from __future__ import annotations

from billing.audit.chain import SEAL_INTERVAL, seal
from billing.compliance.retention import run_retention
from billing.core.config import Settings
from billing.core.times import utcnow
from billing.credits.jobs import EXPIRY_INTERVAL, HOLD_INTERVAL, expire_due, release_due_holds
from billing.credits.rollups.jobs import INTERVAL as ROLLUP_INTERVAL
from billing.credits.rollups.jobs import roll_up
from billing.db.engine import Database
from billing.outbound.jobs import DISPATCH_INTERVAL, Dispatch
from billing.payments.auto_topup.charging import INTERVAL as TOPUP_INTERVAL
from billing.payments.auto_topup.charging import AutoTopups
from billing.webhooks.worker import PeriodicJob

RETENTION_INTERVAL = 3600.0  # seconds between retention runs; the first runs at start


def periodic_jobs(settings: Settings, database: Database) -> list[PeriodicJob]:
    """The grant expiry and hold release sweeps, the hourly retention job, the sealer
    that chains committed audit entries, the ledger's rollups, the webhook dispatcher and
    auto top-up."""
    return [
        PeriodicJob("grant_expiry", EXPIRY_INTERVAL, lambda: expire_due(database)),
        PeriodicJob("hold_expiry", HOLD_INTERVAL, lambda: release_due_holds(database)),
        PeriodicJob(
            "retention", RETENTION_INTERVAL, lambda: run_retention(database, settings, utcnow())
        ),
        PeriodicJob("audit_seal", SEAL_INTERVAL, lambda: seal(database)),
        PeriodicJob("ledger_rollups", ROLLUP_INTERVAL, lambda: roll_up(database)),
        PeriodicJob("webhook_dispatch", DISPATCH_INTERVAL, Dispatch(database, settings)),
        PeriodicJob("auto_topup", TOPUP_INTERVAL, AutoTopups(database, settings)),
    ]
