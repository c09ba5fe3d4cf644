"""Built issues and the stories they told: the archive's list and dedup's memory across issues."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from ..models import Issue, PastStory, Summary
from . import from_iso, to_iso, transaction
from .articles import articles_by_id

BUILT, SENT = "built", "sent"
_ID_BATCH = 500


@dataclass(frozen=True)
class IssueRecord:
    """One issue as stored: where its files are and whether it went out."""

    key: str
    date: date
    status: str  # "built" or "sent"
    title: str
    headline: str
    subtitle: str
    folder: Path
    built_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True)
class IssueStory:
    """One story of a stored issue, with the articles and key points it told."""

    issue_key: str
    position: int
    story_id: str
    kind: str  # "story" or "quick_hit"
    headline: str
    article_ids: tuple[str, ...]
    key_points: tuple[str, ...]
    update_of: str | None = None



def save_issue(conn: sqlite3.Connection, issue: Issue, folder: Path, *, built_at: datetime | None = None) -> None:
    """Record a built issue and its stories; a rebuild of the same key replaces its stories.

    A rebuild keeps the status and sent_at of an issue that already went out.
    """
    built = to_iso(built_at or datetime.now(timezone.utc))
    rows = [(s, "story") for s in issue.stories] + [(s, "quick_hit") for s in issue.quick_hits]
    with transaction(conn):
        conn.execute(
            "INSERT INTO issues (key, date, title, headline, subtitle, folder, built_at) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT(key) DO UPDATE SET date=excluded.date, title=excluded.title,"
            " headline=excluded.headline, subtitle=excluded.subtitle, folder=excluded.folder,"
            " built_at=excluded.built_at",
            (issue.key, issue.date.isoformat(), issue.title, issue.headline, issue.subtitle, str(folder), built),
        )
        conn.execute("DELETE FROM issue_stories WHERE issue_key = ?", (issue.key,))
        conn.executemany(
            "INSERT INTO issue_stories (issue_key, position, story_id, kind, headline, article_ids, key_points,"
            " update_of) VALUES (?,?,?,?,?,?,?,?)",
            [(issue.key, pos, s.story.id, kind, s.headline, _ids(s), json.dumps([p.text for p in s.details]),
              s.story.update_of)
             for pos, (s, kind) in enumerate(rows, start=1)],
        )


def _ids(summary: Summary) -> str:
    return json.dumps([a.id for a in summary.story.articles])


def mark_issue_sent(conn: sqlite3.Connection, key: str, *, sent_at: datetime | None = None) -> bool:
    """Mark an issue delivered; False when no issue has that key."""
    cur = conn.execute("UPDATE issues SET status = ?, sent_at = ? WHERE key = ?",
                       (SENT, to_iso(sent_at or datetime.now(timezone.utc)), key))
    return cur.rowcount == 1


def _record(row: sqlite3.Row) -> IssueRecord:
    return IssueRecord(
        key=row["key"], date=date.fromisoformat(row["date"]), status=row["status"], title=row["title"],
        headline=row["headline"], subtitle=row["subtitle"], folder=Path(row["folder"]),
        built_at=datetime.fromisoformat(row["built_at"]),
        sent_at=from_iso(row["sent_at"]),
    )


def get_issue(conn: sqlite3.Connection, key: str) -> IssueRecord | None:
    row = conn.execute("SELECT * FROM issues WHERE key = ?", (key,)).fetchone()
    return _record(row) if row else None


def list_issues(conn: sqlite3.Connection, status: str | None = None) -> list[IssueRecord]:
    """Stored issues, newest first; only those of `status` when given."""
    if status is None:
        rows = conn.execute("SELECT * FROM issues ORDER BY key DESC")
    else:
        rows = conn.execute("SELECT * FROM issues WHERE status = ? ORDER BY key DESC", (status,))
    return [_record(r) for r in rows]


def issue_stories(conn: sqlite3.Connection, key: str) -> list[IssueStory]:
    """The stories of one issue in rank order (full stories, then quick hits)."""
    rows = conn.execute("SELECT * FROM issue_stories WHERE issue_key = ? ORDER BY position", (key,))
    return [
        IssueStory(issue_key=r["issue_key"], position=r["position"], story_id=r["story_id"], kind=r["kind"],
                   headline=r["headline"], article_ids=tuple(json.loads(r["article_ids"])),
                   key_points=tuple(json.loads(r["key_points"])), update_of=r["update_of"])
        for r in rows
    ]


def past_stories(conn: sqlite3.Connection, *, exclude_key: str | None = None) -> list[PastStory]:
    """Every story of every built or sent issue except `exclude_key`, newest issue first.

    Articles no longer in the store are left out of `articles`; the ids and key
    points still say what was told.
    """
    rows = conn.execute(
        "SELECT s.* FROM issue_stories s JOIN issues i ON i.key = s.issue_key"
        " WHERE i.status IN (?, ?) AND i.key IS NOT ? ORDER BY i.key DESC, s.position",
        (BUILT, SENT, exclude_key),
    ).fetchall()
    wanted = sorted({aid for r in rows for aid in json.loads(r["article_ids"])})
    by_id = {}
    for start in range(0, len(wanted), _ID_BATCH):  # keep under SQLite's bound-parameter limit
        by_id.update((a.id, a) for a in articles_by_id(conn, wanted[start : start + _ID_BATCH]))
    return [
        PastStory(id=r["story_id"], headline=r["headline"], issue_key=r["issue_key"],
                  articles=tuple(by_id[a] for a in json.loads(r["article_ids"]) if a in by_id),
                  key_points=tuple(json.loads(r["key_points"])))
        for r in rows
    ]
