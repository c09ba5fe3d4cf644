"""Subscribers: addresses, first names, status with the time and reason of every change.

Addresses are validated with email-validator (syntax only, no DNS) and kept
once per casefolded address. A subscriber is never deleted by delivery: an
unsubscribed or bounced row stays so that an import cannot mail them again.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from ..errors import InputError
from ..models import Subscriber
from . import transaction

STATUSES = ("active", "unsubscribed", "bounced")
MAX_NAME_LENGTH = 100
# Control characters (CR, LF, NUL, ...) never reach a header or the database.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def _now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="seconds")


def normalize_email(address: str) -> str:
    """A validated address (domain lower-cased and IDNA-normalized); InputError when invalid."""
    if _CONTROL.search(address or ""):
        raise InputError(f"{address!r}: an address cannot contain control characters")
    try:
        # ASCII only (IDNA domains are encoded): an SMTPUTF8 address would bounce at most relays.
        result = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InputError(f"{address!r}: {exc}") from None
    return result.ascii_email or result.normalized


def clean_name(name: str | None) -> str | None:
    """A first name safe for a header: control characters become spaces, None when empty."""
    if name is None:
        return None
    cleaned = " ".join(_CONTROL.sub(" ", name).split())[:MAX_NAME_LENGTH]
    return cleaned or None


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    status: str
    reason: str


@dataclass(frozen=True)
class SubscriberRecord:
    """A subscriber with its delivery bookkeeping."""

    subscriber: Subscriber
    status_at: datetime
    status_reason: str
    failures: int
    created_at: datetime

    @property
    def email(self) -> str:
        return self.subscriber.email


def _record(row: sqlite3.Row) -> SubscriberRecord:
    return SubscriberRecord(
        subscriber=Subscriber(id=row["id"], email=row["email"], first_name=row["first_name"], status=row["status"]),
        status_at=datetime.fromisoformat(row["status_at"]),
        status_reason=row["status_reason"],
        failures=row["failures"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def find_subscriber(conn: sqlite3.Connection, email: str) -> SubscriberRecord | None:
    """The subscriber with this address (any case), or None."""
    row = conn.execute("SELECT * FROM subscribers WHERE email_key = ?", (_key(email),)).fetchone()
    return _record(row) if row else None


def get_subscriber(conn: sqlite3.Connection, subscriber_id: int) -> SubscriberRecord | None:
    row = conn.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    return _record(row) if row else None


def inactive_ids(conn: sqlite3.Connection) -> set[int]:
    """Ids of unsubscribed and bounced subscribers."""
    return {r[0] for r in conn.execute("SELECT id FROM subscribers WHERE status != 'active'")}


def _key(email: str) -> str:
    return email.strip().casefold()


def add_subscriber(conn: sqlite3.Connection, email: str, first_name: str | None = None, *,
                   reason: str = "added", now: datetime | None = None) -> tuple[SubscriberRecord, bool]:
    """Add an active subscriber; return (record, created). An existing address is left as it is."""
    address = normalize_email(email)
    name = clean_name(first_name)
    at = _now_iso(now)
    with transaction(conn):
        existing = conn.execute("SELECT id FROM subscribers WHERE email_key = ?", (_key(address),)).fetchone()
        if existing:
            return _record(conn.execute("SELECT * FROM subscribers WHERE id = ?", (existing[0],)).fetchone()), False
        cur = conn.execute(
            "INSERT INTO subscribers (email, email_key, first_name, status, status_at, status_reason, created_at)"
            " VALUES (?, ?, ?, 'active', ?, ?, ?)",
            (address, _key(address), name, at, reason, at),
        )
        conn.execute("INSERT INTO subscriber_events (subscriber_id, at, status, reason) VALUES (?, ?, 'active', ?)",
                     (cur.lastrowid, at, reason))
    return get_subscriber(conn, cur.lastrowid), True  # type: ignore[return-value]


def set_status(conn: sqlite3.Connection, subscriber_id: int, status: str, reason: str, *,
               now: datetime | None = None) -> bool:
    """Change a subscriber's status, recording when and why; False when it already had that status."""
    if status not in STATUSES:
        raise InputError(f"unknown subscriber status {status!r} (expected one of {', '.join(STATUSES)})")
    at = _now_iso(now)
    with transaction(conn):
        cur = conn.execute(
            "UPDATE subscribers SET status = ?, status_at = ?, status_reason = ?,"
            " failures = CASE WHEN ? = 'active' THEN 0 ELSE failures END"
            " WHERE id = ? AND status != ?",
            (status, at, reason, status, subscriber_id, status),
        )
        if cur.rowcount:
            conn.execute("INSERT INTO subscriber_events (subscriber_id, at, status, reason) VALUES (?, ?, ?, ?)",
                         (subscriber_id, at, status, reason))
    return bool(cur.rowcount)


def set_first_name(conn: sqlite3.Connection, subscriber_id: int, first_name: str | None) -> None:
    conn.execute("UPDATE subscribers SET first_name = ? WHERE id = ?", (clean_name(first_name), subscriber_id))


def record_failure(conn: sqlite3.Connection, subscriber_id: int, reason: str, *, bounce_after: int,
                   now: datetime | None = None) -> bool:
    """Count one permanent failure; mark the subscriber bounced at `bounce_after`. True when bounced now."""
    row = conn.execute("UPDATE subscribers SET failures = failures + 1 WHERE id = ? RETURNING failures",
                       (subscriber_id,)).fetchone()
    if row and row[0] >= bounce_after:
        return set_status(conn, subscriber_id, "bounced", f"{row[0]} permanent failures, last: {reason}", now=now)
    return False


def ids_with_failures(conn: sqlite3.Connection) -> set[int]:
    """Subscribers with permanent failures counted since their last success."""
    return {r[0] for r in conn.execute("SELECT id FROM subscribers WHERE failures > 0")}


def record_success(conn: sqlite3.Connection, subscriber_id: int) -> None:
    conn.execute("UPDATE subscribers SET failures = 0 WHERE id = ? AND failures != 0", (subscriber_id,))


def status_history(conn: sqlite3.Connection, subscriber_id: int) -> list[StatusChange]:
    rows = conn.execute("SELECT at, status, reason FROM subscriber_events WHERE subscriber_id = ? ORDER BY id",
                        (subscriber_id,))
    return [StatusChange(datetime.fromisoformat(r["at"]), r["status"], r["reason"]) for r in rows]


def list_subscribers(conn: sqlite3.Connection, status: str | None = None) -> list[SubscriberRecord]:
    """All subscribers (or those with `status`), oldest first."""
    if status is None:
        rows = conn.execute("SELECT * FROM subscribers ORDER BY id")
    else:
        rows = conn.execute("SELECT * FROM subscribers WHERE status = ? ORDER BY id", (status,))
    return [_record(r) for r in rows]


def active_subscribers(conn: sqlite3.Connection) -> list[Subscriber]:
    return [r.subscriber for r in list_subscribers(conn, "active")]


def count_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({r[0]: r[1] for r in conn.execute("SELECT status, COUNT(*) FROM subscribers GROUP BY status")})
    return counts


@dataclass
class ImportReport:
    """What a CSV import did; `errors` holds (line number, message) of each rejected row."""

    added: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(conn: sqlite3.Connection, path: Path, *, now: datetime | None = None) -> ImportReport:
    """Add the rows of a CSV file (columns email[, first_name]; a header row is optional).

    A bad row is reported with its line number and the import goes on.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    report = ImportReport()
    reader = csv.reader(io.StringIO(text, newline=""))
    email_col, name_col = 0, 1
    first = True
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if first:
                first = False
                header = [c.strip().lower().replace(" ", "_") for c in row]
                if "email" in header:
                    email_col = header.index("email")
                    name_col = next((header.index(h) for h in ("first_name", "name", "firstname") if h in header), -1)
                    continue
            email = row[email_col].strip() if email_col < len(row) else ""
            name = row[name_col] if 0 <= name_col < len(row) else None
            if not email:
                report.errors.append((line, "no email address"))
                continue
            try:
                _, created = add_subscriber(conn, email, name, reason=f"imported from {Path(path).name}", now=now)
            except InputError as exc:
                report.errors.append((line, str(exc)))
                continue
            if created:
                report.added += 1
            else:
                report.existing += 1
    except csv.Error as exc:
        report.errors.append((reader.line_num, f"unreadable CSV: {exc}"))
    return report


def export_csv(records: Iterable[SubscriberRecord]) -> str:
    """CSV text with a header: email, first_name, status, status_at, status_reason."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "first_name", "status", "status_at", "status_reason"])
    for r in records:
        writer.writerow([r.email, r.subscriber.first_name or "", r.subscriber.status,
                         r.status_at.isoformat(), r.status_reason])
    return out.getvalue()


def install_secret(conn: sqlite3.Connection, name: str, size: int = 32) -> bytes:
    """A random secret generated on first use and kept in the database (same value ever after)."""
    with transaction(conn):
        conn.execute("INSERT OR IGNORE INTO install_secrets (name, value, created_at) VALUES (?, ?, ?)",
                     (name, secrets.token_bytes(size), _now_iso()))
        return bytes(conn.execute("SELECT value FROM install_secrets WHERE name = ?", (name,)).fetchone()[0])
