"""SQLite state: migrations, and articles that update rather than duplicate."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from digest import storage
from digest.models import FeedState
from digest.storage import articles as store
from tests.conftest import make_article

NOW = datetime(2025, 1, 30, 12, 0, tzinfo=timezone.utc)


def test_a_new_database_is_migrated_to_the_newest_version(tmp_path):
    conn = storage.connect(tmp_path / "sub" / "digest.sqlite3")
    newest = max(version for version, _name, _sql in storage.migrations())
    assert storage.schema_version(conn) == newest
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_a_database_applies_nothing_twice(tmp_path):
    path = tmp_path / "digest.sqlite3"
    storage.connect(path).close()
    conn = storage.connect(path)
    assert storage.migrate(conn) == max(v for v, _n, _s in storage.migrations())


def test_saving_the_same_article_twice_stores_it_once(db):
    article = make_article()
    assert store.save_articles(db, [article], now=NOW) == store.SaveCounts(new=1)
    assert store.save_articles(db, [article], now=NOW) == store.SaveCounts(unchanged=1)
    assert store.count_articles(db) == 1


def test_an_edited_article_is_updated_in_place(db):
    store.save_articles(db, [make_article(title="Old")], now=NOW)
    assert store.save_articles(db, [make_article(title="New")], now=NOW) == store.SaveCounts(updated=1)
    (article,) = store.articles_since(db, datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert article.title == "New"


def test_articles_round_trip_with_timezone_aware_dates(db):
    original = make_article(author="Ada", guid="g-1", html="<p>x</p>")
    store.save_articles(db, [original], now=NOW)
    assert store.articles_by_id(db, ["a1"]) == [original]


def test_articles_since_filters_by_published_or_first_fetched(db):
    old = make_article(id="old", published=datetime(2024, 1, 1, tzinfo=timezone.utc))
    undated = make_article(id="undated", published=None, fetched_at=datetime(2025, 1, 30, tzinfo=timezone.utc))
    store.save_articles(db, [old, undated, make_article()], now=NOW)
    recent = store.articles_since(db, datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert [a.id for a in recent] == ["a1", "undated"]


def test_feed_state_is_replaced_per_source(db):
    state = FeedState(source="s", url="https://x/feed", etag='"v1"', last_status="ok", item_count=3)
    store.save_feed_state(db, state)
    store.save_feed_state(db, replace(state, etag='"v2"', last_status="error", last_error="HTTP 500"))
    assert store.feed_states(db)["s"].etag == '"v2"'
    assert store.feed_states(db)["s"].last_error == "HTTP 500"


def test_an_article_repeated_within_one_batch_is_stored_once(db):
    first, edited = make_article(title="First"), make_article(title="Edited")
    counts = store.save_articles(db, [first, first, edited], now=NOW)
    assert store.count_articles(db) == 1
    assert counts.new == 1 and counts.new + counts.updated + counts.unchanged == 3
    assert store.articles_by_id(db, ["a1"])[0].title == "Edited"
