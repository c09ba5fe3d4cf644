"""feedparser's own test corpus (about 2,200 feeds) through our parse path: no crash, nothing unsafe stored.

The corpus ships in feedparser's source distribution; `.ci/run` downloads and
unpacks it into .cache/feedparser-tests/<version>/ once. Nothing is downloaded
at test time: without the cache the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import importlib.metadata
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from digest.errors import FetchError
from digest.ingest.feeds import parse_feed
from digest.storage import articles as article_store

from .test_ingest_sanitize import assert_harmless

ROOT = Path(__file__).resolve().parent.parent
VERSION = importlib.metadata.version("feedparser")
CORPUS = ROOT / ".cache" / "feedparser-tests" / VERSION / "tests"
NOW = datetime(2025, 1, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".py") if CORPUS.is_dir() else []
    if len(files) < 2000:
        message = f"feedparser {VERSION} test corpus missing in {CORPUS} (bash .ci/run fetches it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return files


def test_every_corpus_feed_parses_or_fails_cleanly_and_stores_only_sanitized_html(corpus, db):
    parsed = failed = items = 0
    for path in corpus:
        try:
            articles = parse_feed(path.read_bytes(), url=path.as_uri(), source=path.parent.name, now=NOW)
        except FetchError as exc:  # a broken feed: reported and skipped, as in a real run
            assert str(exc).startswith(path.as_uri()) and "\n" not in str(exc)
            failed += 1
            continue
        parsed += 1
        items += len(articles)
        for article in articles:
            assert_harmless(article.html)
        article_store.save_articles(db, articles, now=NOW)

    # Many corpus items share a link (http://example.com/...), so they share an id: the store holds fewer rows.
    stored = db.execute("SELECT id, url, title, html FROM articles").fetchall()
    assert parsed > 1900 and failed < 300
    assert items > 1000 and len(stored) > 100
    for row in stored:
        assert_harmless(row["html"])
        assert "<script" not in row["title"].lower()


def test_corpus_sanitizer_cases_lose_their_scripts(corpus):
    cases = [p for p in corpus if p.parent.name == "sanitize" and ("script" in p.name or p.name.startswith("item_"))]
    assert len(cases) > 50
    for path in cases:
        for article in parse_feed(path.read_bytes(), url=path.as_uri(), source="sanitize", now=NOW):
            assert_harmless(article.html)
