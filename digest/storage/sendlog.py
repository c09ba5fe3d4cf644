"""The send log: one row per (issue, subscriber), written before and after each SMTP transaction.

The states and what a restart does with each:

- no row, or ``queued``: nothing was handed to the relay: send.
- ``handed``: written (and committed) just before the final "." of DATA. A
  process found ``handed`` rows of its issue left by a dead run: the relay may
  hold those messages, so they become ``uncertain`` and are not resent
  (at most once: nobody gets two copies). ``digest send --resend-uncertain``
  overrides that for an operator who checked the relay's log.
- ``sent`` / ``failed``: final. (SMTP mode writes ``sent`` in the same commit
  as the next ``handed``, so a crash may leave a delivered message ``handed``:
  it then counts as uncertain, still never resent.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from . import transaction

FINAL = ("sent", "failed", "uncertain")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class LogEntry:
    issue_key: str
    subscriber_id: int
    email: str
    status: str
    attempts: int
    message_id: str | None
    error: str


def queue(conn: sqlite3.Connection, issue_key: str, recipients: Iterable[tuple[int, str]]) -> int:
    """Add a ``queued`` row for each (subscriber id, email) that has no row for this issue yet."""
    now = _now()
    with transaction(conn):
        cur = conn.executemany(
            "INSERT OR IGNORE INTO send_log (issue_key, subscriber_id, email, status, queued_at, updated_at)"
            " VALUES (?, ?, ?, 'queued', ?, ?)",
            ((issue_key, sid, email, now, now) for sid, email in recipients),
        )
    return cur.rowcount


def settle_interrupted(conn: sqlite3.Connection, issue_key: str) -> int:
    """Turn the ``handed`` rows a dead run left into ``uncertain``; return how many."""
    cur = conn.execute(
        "UPDATE send_log SET status = 'uncertain', updated_at = ?,"
        " error = 'interrupted after the message was handed to the relay'"
        " WHERE issue_key = ? AND status = 'handed'",
        (_now(), issue_key),
    )
    return cur.rowcount


def requeue_uncertain(conn: sqlite3.Connection, issue_key: str) -> int:
    """Operator override: send the ``uncertain`` rows again (at least once for them)."""
    cur = conn.execute("UPDATE send_log SET status = 'queued', updated_at = ?"
                       " WHERE issue_key = ? AND status = 'uncertain'", (_now(), issue_key))
    return cur.rowcount


def mark_handed(conn: sqlite3.Connection, issue_key: str, subscriber_id: int, message_id: str, *,
                sent: Iterable[int] = ()) -> None:
    """The point of no return, committed before the final "." is written; also marks `sent` ids, same commit."""
    now = _now()
    with transaction(conn):
        _mark_sent(conn, issue_key, sent, now)
        conn.execute(
            "UPDATE send_log SET status = 'handed', attempts = attempts + 1, message_id = ?, updated_at = ?"
            " WHERE issue_key = ? AND subscriber_id = ?",
            (message_id, now, issue_key, subscriber_id),
        )


def mark_sent(conn: sqlite3.Connection, issue_key: str, subscriber_ids: Iterable[int]) -> None:
    ids = list(subscriber_ids)
    if ids:
        with transaction(conn):
            _mark_sent(conn, issue_key, ids, _now())


def _mark_sent(conn: sqlite3.Connection, issue_key: str, subscriber_ids: Iterable[int], now: str) -> None:
    conn.executemany("UPDATE send_log SET status = 'sent', error = '', updated_at = ? WHERE issue_key = ?"
                     " AND subscriber_id = ?", ((now, issue_key, sid) for sid in subscriber_ids))


def mark(conn: sqlite3.Connection, issue_key: str, subscriber_id: int, status: str, error: str = "") -> None:
    """Record the outcome: ``sent``, ``failed``, or ``queued`` again (a 4xx to retry)."""
    conn.execute("UPDATE send_log SET status = ?, error = ?, updated_at = ? WHERE issue_key = ? AND subscriber_id = ?",
                 (status, error, _now(), issue_key, subscriber_id))


def entries(conn: sqlite3.Connection, issue_key: str, status: str | None = None) -> list[LogEntry]:
    sql = "SELECT * FROM send_log WHERE issue_key = ?"
    args: tuple = (issue_key,)
    if status:
        sql += " AND status = ?"
        args += (status,)
    return [LogEntry(r["issue_key"], r["subscriber_id"], r["email"], r["status"], r["attempts"],
                     r["message_id"], r["error"]) for r in conn.execute(sql + " ORDER BY subscriber_id", args)]


def statuses(conn: sqlite3.Connection, issue_key: str) -> dict[int, str]:
    """subscriber id -> status, for one issue."""
    rows = conn.execute("SELECT subscriber_id, status FROM send_log WHERE issue_key = ?", (issue_key,))
    return {r[0]: r[1] for r in rows}


def counts(conn: sqlite3.Connection, issue_key: str) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute(
        "SELECT status, COUNT(*) FROM send_log WHERE issue_key = ? GROUP BY status", (issue_key,))}
