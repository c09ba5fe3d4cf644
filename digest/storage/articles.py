"""Articles and per-source feed state."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from ..models import Article, FeedState
from . import from_iso, to_iso, transaction


@dataclass(frozen=True)
class SaveCounts:
    """How one batch of articles changed the store."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0




def _content_hash(article: Article) -> str:
    return hashlib.sha256(f"{article.title}\x00{article.text}\x00{article.html}".encode()).hexdigest()


_INSERT_ARTICLE = (
    "INSERT INTO articles (id, url, guid, title, source, author, published, text, html, content_hash, fetched_at,"
    " updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_UPDATE_ARTICLE = (
    "UPDATE articles SET url=?, guid=?, title=?, source=?, author=?, published=?, text=?, html=?, content_hash=?,"
    " updated_at=? WHERE id=?"
)
_LOOKUP_CHUNK = 500  # ids per SELECT ... IN (...), well under SQLite's bound-parameter limit


def save_articles(conn: sqlite3.Connection, articles: Iterable[Article], now: datetime | None = None) -> SaveCounts:
    """Insert new articles; update ones whose content changed; leave the rest alone."""
    now_iso = to_iso(now or datetime.now(timezone.utc))
    batch = list(articles)
    inserts: list[tuple] = []
    updates: list[tuple] = []
    unchanged = 0
    fetched_iso: dict[datetime | None, str | None] = {}  # a run stamps every article with one fetch time
    with transaction(conn):
        # One lookup per chunk instead of one per article; `stored` then follows the batch, so an id seen twice
        # in it counts as new once and as updated (or unchanged) after that, as row-by-row saving did.
        stored = _stored_hashes(conn, [a.id for a in batch])
        for a in batch:
            digest = _content_hash(a)
            known = stored.get(a.id)
            if known == digest:
                unchanged += 1
                continue
            stored[a.id] = digest
            if known is None:
                if a.fetched_at not in fetched_iso:
                    fetched_iso[a.fetched_at] = to_iso(a.fetched_at)
                inserts.append((a.id, a.url, a.guid, a.title, a.source, a.author, to_iso(a.published), a.text, a.html,
                                digest, fetched_iso[a.fetched_at] or now_iso, now_iso))
            else:
                updates.append((a.url, a.guid, a.title, a.source, a.author, to_iso(a.published), a.text, a.html,
                                digest, now_iso, a.id))
        # Inserts first: an update in this batch may be of an article the batch itself inserted.
        conn.executemany(_INSERT_ARTICLE, inserts)
        conn.executemany(_UPDATE_ARTICLE, updates)
    return SaveCounts(len(inserts), len(updates), unchanged)


def _stored_hashes(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _LOOKUP_CHUNK):
        chunk = unique[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(conn.execute(f"SELECT id, content_hash FROM articles WHERE id IN ({marks})", chunk).fetchall())
    return found


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"], url=row["url"], guid=row["guid"], title=row["title"], source=row["source"],
        author=row["author"], published=from_iso(row["published"]), text=row["text"], html=row["html"],
        fetched_at=from_iso(row["fetched_at"]),
    )


def articles_since(conn: sqlite3.Connection, since: datetime) -> list[Article]:
    """Articles published (or, when undated, first fetched) at or after `since`, oldest first."""
    rows = conn.execute(
        "SELECT * FROM articles WHERE COALESCE(published, fetched_at) >= ?"
        " ORDER BY COALESCE(published, fetched_at), id",
        (to_iso(since),),
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
            last_fetched=from_iso(r["last_fetched"]), last_status=r["last_status"], last_error=r["last_error"],
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
        (state.source, state.url, state.etag, state.last_modified, to_iso(state.last_fetched),
         state.last_status, state.last_error, state.item_count, state.fetch_url),
    )
