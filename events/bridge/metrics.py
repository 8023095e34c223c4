"""The bridge's Prometheus metrics and its ``/healthz`` verdict.

What an OMERO sysadmin alerts on: how far the bridge is behind OMERO (rows and seconds),
what it published by type, what it skipped and why, whether this process is the active
bridge, how many queries it puts on OMERO's database, and what it could not read: lines
of OMERO's log lost to a truncation or a rolling, open gaps past their limit.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..monitoring import Verdict


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.published = Counter("omero_mail_bridge_events_published", "Events published and confirmed, by type",
                                 ["type"], registry=r)
        self.rows = Counter("omero_mail_bridge_eventlog_rows", "eventlog rows read", registry=r)
        self.skipped = Counter("omero_mail_bridge_rows_skipped",
                               "eventlog rows that became no event, by reason (action, filtered, class, missing)",
                               ["reason"], registry=r)
        self.log_lines = Counter("omero_mail_bridge_log_lines", "Lines read from OMERO's log", registry=r)
        self.lag_rows = Gauge("omero_mail_bridge_lag_rows", "eventlog rows written by OMERO, not yet published",
                              registry=r)
        self.lag_seconds = Gauge("omero_mail_bridge_lag_seconds",
                                 "Age of the newest eventlog row published while rows are still behind; 0 when "
                                 "caught up", registry=r)
        self.active = Gauge("omero_mail_bridge_active", "1 while this bridge holds the lead, 0 on standby",
                            registry=r)
        self.gaps = Gauge("omero_mail_bridge_open_gaps", "eventlog id ranges waiting for a transaction to commit",
                          registry=r)
        self.gaps_final = Counter("omero_mail_bridge_gaps_given_up",
                                  "eventlog id ranges never filled (rolled-back transactions)", registry=r)
        self.gaps_over_limit = Counter("omero_mail_bridge_gaps_over_limit",
                                       "Times the open eventlog gaps went past their limit (none is given up: "
                                       "each poll reads them all)", registry=r)
        self.log_losses = Counter("omero_mail_bridge_log_losses",
                                  "Times lines of OMERO's log may have been lost: truncated with no copy left, "
                                  "or rolled away before they were read", registry=r)
        self.queries = Counter("omero_mail_bridge_database_queries", "Statements sent to OMERO's database",
                               registry=r)
        self.errors = Counter("omero_mail_bridge_errors", "Failed attempts, by what failed (database, broker)",
                              ["what"], registry=r)
        self.last_cycle_at: float | None = None
        self.is_active = False
        self.behind = (0, 0.0)
        self.started_at = time.monotonic()

    def cycle_done(self) -> None:
        """A poll (active) or a try for the lead (standby) completed against the database."""
        self.last_cycle_at = time.monotonic()

    def set_active(self, active: bool) -> None:
        self.is_active = active
        self.active.set(1 if active else 0)

    def set_lag(self, rows: int, seconds: float) -> None:
        self.behind = (rows, seconds)
        self.lag_rows.set(rows)
        self.lag_seconds.set(seconds)

    def health(self, stuck_after: float) -> tuple[Verdict, dict]:
        """Unhealthy when no poll (or, on standby, no try for the lead) completed for ``stuck_after``."""
        idle = time.monotonic() - (self.last_cycle_at or self.started_at)
        role = "active" if self.is_active else "standby"
        if idle >= stuck_after:
            verdict = Verdict(False, f"stuck: nothing completed against OMERO's database for {idle:.0f}s ({role})")
        else:
            verdict = Verdict(True, "ok")
        return verdict, {"status": "ok" if verdict.healthy else "unhealthy", "reason": verdict.reason,
                         "role": role, "idle_seconds": round(idle, 1),
                         "lag_rows": self.behind[0], "lag_seconds": round(self.behind[1], 1)}
