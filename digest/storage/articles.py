"""Articles and per-source feed state."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..models import Article, FeedState
from . import transaction


@dataclass(frozen=True)
class SaveCounts:
    """How one batch of articles changed the store."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _content_hash(article: Article) -> str:
    return hashlib.sha256(f"{article.title}\x00{article.text}\x00{article.html}".encode()).hexdigest()


def save_articles(conn: sqlite3.Connection, articles: Iterable[Article], now: datetime | None = None) -> SaveCounts:
    """Insert new articles; update ones whose content changed; leave the rest alone."""
    now_iso = _iso(now or datetime.now(timezone.utc))
    new = updated = unchanged = 0
    with transaction(conn):
        for a in articles:
            digest = _content_hash(a)
            row = conn.execute("SELECT content_hash FROM articles WHERE id = ?", (a.id,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO articles (id, url, guid, title, source, author, published, text, html,"
                    " content_hash, fetched_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (a.id, a.url, a.guid, a.title, a.source, a.author, _iso(a.published), a.text, a.html,
                     digest, _iso(a.fetched_at) or now_iso, now_iso),
                )
                new += 1
            elif row["content_hash"] != digest:
                conn.execute(
                    "UPDATE articles SET url=?, guid=?, title=?, source=?, author=?, published=?, text=?,"
                    " html=?, content_hash=?, updated_at=? WHERE id=?",
                    (a.url, a.guid, a.title, a.source, a.author, _iso(a.published), a.text, a.html,
                     digest, now_iso, a.id),
                )
                updated += 1
            else:
                unchanged += 1
    return SaveCounts(new, updated, unchanged)


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"], url=row["url"], guid=row["guid"], title=row["title"], source=row["source"],
        author=row["author"], published=_dt(row["published"]), text=row["text"], html=row["html"],
        fetched_at=_dt(row["fetched_at"]),
    )


def articles_since(conn: sqlite3.Connection, since: datetime) -> list[Article]:
    """Articles published (or, when undated, first fetched) at or after `since`, oldest first."""
    rows = conn.execute(
        "SELECT * FROM articles WHERE COALESCE(published, fetched_at) >= ?"
        " ORDER BY COALESCE(published, fetched_at), id",
        (_iso(since),),
    )
    return [_article(r) for r in rows]


def articles_by_id(conn: sqlite3.Connection, ids: Iterable[str]) -> list[Article]:
    ids = list(ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = conn.execute(f"SELECT * FROM articles WHERE id IN ({marks})", ids)
    by_id = {r["id"]: _article(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def count_articles(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]


def article_counts_by_source(conn: sqlite3.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT source, COUNT(*) FROM articles GROUP BY source")}


def feed_states(conn: sqlite3.Connection) -> dict[str, FeedState]:
    rows = conn.execute("SELECT * FROM feeds")
    return {
        r["source"]: FeedState(
            source=r["source"], url=r["url"], etag=r["etag"], last_modified=r["last_modified"],
            last_fetched=_dt(r["last_fetched"]), last_status=r["last_status"], last_error=r["last_error"],
            item_count=r["item_count"], fetch_url=r["fetch_url"],
        )
        for r in rows
    }


def save_feed_state(conn: sqlite3.Connection, state: FeedState) -> None:
    conn.execute(
        "INSERT INTO feeds (source, url, etag, last_modified, last_fetched, last_status, last_error, item_count,"
        " fetch_url) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(source) DO UPDATE SET url=excluded.url, etag=excluded.etag,"
        " last_modified=excluded.last_modified, last_fetched=excluded.last_fetched,"
        " last_status=excluded.last_status, last_error=excluded.last_error, item_count=excluded.item_count,"
        " fetch_url=excluded.fetch_url",
        (state.source, state.url, state.etag, state.last_modified, _iso(state.last_fetched),
         state.last_status, state.last_error, state.item_count, state.fetch_url),
    )
