"""Issue slots and pipeline runs: what makes "exactly one issue per slot" hold.

A slot is claimed inside one ``BEGIN IMMEDIATE`` transaction before anything
is built, so of two triggers for the same slot (a DST double fire, a cron line
plus a scheduler, a second process) exactly one gets to work; the other is
told the slot is done or busy. A claim whose owner died (``kill -9``) is taken
over by the next trigger.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import from_iso, to_iso, transaction

# Statuses of a slot: claimed -> built -> sent, or skipped / failed.
CLAIMED, BUILT, SENT, SKIPPED, FAILED = "claimed", "built", "sent", "skipped", "failed"
FINAL = (SENT, SKIPPED)
# A claim from another host that has not moved for this long is taken to be dead.
FOREIGN_CLAIM_STALE_AFTER = timedelta(hours=2)

# What a claim tells the caller to do.
BUILD, SEND, DONE, BUSY = "build", "send", "done", "busy"


@dataclass(frozen=True)
class Slot:
    key: str
    status: str
    reason: str | None
    scheduled_for: datetime | None
    claimed_at: datetime
    built_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    is_active: bool
    owner_host: str | None
    owner_pid: int | None


@dataclass(frozen=True)
class Claim:
    """The answer to "may I work on this slot?": build, send (resume), done or busy."""

    action: str
    slot: Slot


@dataclass(frozen=True)
class RunRecord:
    id: int
    slot_key: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None
    reason: str | None
    stages: list[dict[str, Any]]
    pid: int | None


@dataclass(frozen=True)
class Owner:
    """The process working on a slot."""

    host: str
    pid: int

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid())




def _slot(row: sqlite3.Row) -> Slot:
    return Slot(
        key=row["key"], status=row["status"], reason=row["reason"], scheduled_for=from_iso(row["scheduled_for"]),
        claimed_at=from_iso(row["claimed_at"]), built_at=from_iso(row["built_at"]), finished_at=from_iso(row["finished_at"]),
        updated_at=from_iso(row["updated_at"]), is_active=bool(row["active"]), owner_host=row["owner_host"],
        owner_pid=row["owner_pid"],
    )


def _is_alive(host: str | None, pid: int | None, updated_at: datetime, now: datetime) -> bool:
    """Is the process that holds a claim still there?"""
    if host != socket.gethostname():
        return now - updated_at < FOREIGN_CLAIM_STALE_AFTER
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_slot(
    conn: sqlite3.Connection, key: str, *, now: datetime, scheduled_for: datetime | None = None,
    owner: Owner | None = None,
) -> Claim:
    """Take the slot for this process, atomically; say whether to build, resume sending, or leave it."""
    owner = owner or Owner.current()
    with transaction(conn):
        row = conn.execute("SELECT * FROM slots WHERE key = ?", (key,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO slots (key, status, scheduled_for, claimed_at, updated_at, active, owner_host, owner_pid)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
                (key, CLAIMED, to_iso(scheduled_for), to_iso(now), to_iso(now), owner.host, owner.pid),
            )
            return Claim(BUILD, slot(conn, key))
        current = _slot(row)
        if current.status in FINAL:
            return Claim(DONE, current)
        if current.is_active and _is_alive(current.owner_host, current.owner_pid, current.updated_at, now):
            return Claim(BUSY, current)
        conn.execute(
            "UPDATE slots SET active = 1, owner_host = ?, owner_pid = ?, updated_at = ?,"
            " scheduled_for = COALESCE(scheduled_for, ?) WHERE key = ?",
            (owner.host, owner.pid, to_iso(now), to_iso(scheduled_for), key),
        )
        # Once built, a retry only sends: rebuilding could mail two different issues for one slot.
        return Claim(SEND if current.built_at else BUILD, slot(conn, key))


def slot(conn: sqlite3.Connection, key: str) -> Slot | None:
    row = conn.execute("SELECT * FROM slots WHERE key = ?", (key,)).fetchone()
    return _slot(row) if row else None


def mark_built(conn: sqlite3.Connection, key: str, *, now: datetime) -> None:
    conn.execute(
        "UPDATE slots SET status = ?, built_at = ?, reason = NULL, updated_at = ? WHERE key = ?",
        (BUILT, to_iso(now), to_iso(now), key),
    )


def finish_slot(conn: sqlite3.Connection, key: str, status: str, *, now: datetime, reason: str | None = None) -> None:
    """Record the slot's outcome (sent, skipped or failed) and release it."""
    if status not in (SENT, SKIPPED, FAILED):
        raise ValueError(f"finish_slot: unexpected status {status!r}")
    conn.execute(
        "UPDATE slots SET status = ?, reason = ?, finished_at = ?, updated_at = ?, active = 0 WHERE key = ?",
        (status, reason, to_iso(now), to_iso(now), key),
    )


def release_slot(conn: sqlite3.Connection, key: str, *, now: datetime, reason: str | None = None) -> None:
    """Let go of a slot left unfinished (a stop mid-run): the next trigger resumes it."""
    conn.execute(
        "UPDATE slots SET active = 0, reason = ?, updated_at = ? WHERE key = ?",
        (reason, to_iso(now), key),
    )


def record_missed(
    conn: sqlite3.Connection, key: str, *, now: datetime, scheduled_for: datetime, reason: str
) -> bool:
    """Record a slot that was never run (missed beyond the grace window) as skipped; False if it exists."""
    cur = conn.execute(
        "INSERT INTO slots (key, status, reason, scheduled_for, claimed_at, finished_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
        (key, SKIPPED, reason, to_iso(scheduled_for), to_iso(now), to_iso(now), to_iso(now)),
    )
    return cur.rowcount == 1


def unfinished_slots(conn: sqlite3.Connection) -> list[Slot]:
    """Slots not yet sent or skipped (claimed, built, failed), oldest first."""
    rows = conn.execute("SELECT * FROM slots WHERE status NOT IN (?, ?) ORDER BY key", FINAL)
    return [_slot(r) for r in rows]


def recent_slots(conn: sqlite3.Connection, limit: int = 10) -> list[Slot]:
    rows = conn.execute("SELECT * FROM slots ORDER BY key DESC LIMIT ?", (limit,))
    return [_slot(r) for r in rows]


def start_run(conn: sqlite3.Connection, key: str, *, trigger: str, now: datetime) -> int:
    cur = conn.execute(
        "INSERT INTO runs (slot_key, trigger, started_at, pid) VALUES (?, ?, ?, ?)",
        (key, trigger, to_iso(now), os.getpid()),
    )
    return int(cur.lastrowid)


def finish_run(
    conn: sqlite3.Connection, run_id: int, *, outcome: str, reason: str | None, stages: list[dict[str, Any]],
    now: datetime,
) -> None:
    conn.execute(
        "UPDATE runs SET finished_at = ?, outcome = ?, reason = ?, stages = ? WHERE id = ?",
        (to_iso(now), outcome, reason, json.dumps(stages, sort_keys=True), run_id),
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"], slot_key=row["slot_key"], trigger=row["trigger"], started_at=from_iso(row["started_at"]),
        finished_at=from_iso(row["finished_at"]), outcome=row["outcome"], reason=row["reason"],
        stages=json.loads(row["stages"]), pid=row["pid"],
    )


def recent_runs(conn: sqlite3.Connection, limit: int = 10) -> list[RunRecord]:
    """The latest runs, newest first."""
    rows = conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
    return [_run(r) for r in rows]


def runs_for_slot(conn: sqlite3.Connection, key: str) -> list[RunRecord]:
    rows = conn.execute("SELECT * FROM runs WHERE slot_key = ? ORDER BY id", (key,))
    return [_run(r) for r in rows]
