"""RSS 0.9x/1.0/2.0 and Atom bytes -> Articles, through feedparser.

feedparser's own HTML sanitizer and relative-URI resolver are switched off:
they are the slow half of its work, and nh3 does both jobs here (allowlist
cleaning, links made absolute). A feed that parses with errors but still
yields entries (a wrong declared charset, a stray ampersand) is kept; one
that yields nothing is a `FetchError`. This module must stay importable on
its own: the process pool imports it to parse feeds in parallel.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser

from ..errors import FetchError
from ..models import Article
from .clean import clean_paragraphs, derive_title, normalize_line
from .sanitize import html_to_paragraphs, sanitize_html, strip_tags
from .urls import article_id, canonical_url, is_http_url

log = logging.getLogger(__name__)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Problems feedparser reports that do not make a feed unusable: no media type given, a charset overridden.
_HARMLESS_PROBLEMS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
# FeedParserDict.get maps legacy key names on every call; entries are read with the plain dict lookup.
_get = dict.get
_TAG_LIKE = re.compile(r"<[a-zA-Z/!]")
_FEED_MARKERS = (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf", b"<channel")


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """RSS/Atom rather than an HTML page, judged by the media type or the first bytes."""
    if any(t in content_type for t in ("rss", "atom", "rdf")):
        return True
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return False
    return any(marker in head for marker in _FEED_MARKERS) or (head.startswith(b"<?xml") and b"<html" not in head)


def parse_feed(
    content: bytes,
    *,
    url: str,
    source: str,
    now: datetime,
    content_type: str = "",
    charset: str | None = None,
) -> list[Article]:
    """Every entry of a feed document as an Article; raises FetchError when nothing usable is in it."""
    if not content.strip():
        raise FetchError(f"{url}: empty feed")
    # No content-location: given a base URI, feedparser resolves every element against it, a sixth of its time.
    # Item links are resolved against the feed URL below instead (xml:base on a feed is rare).
    headers: dict[str, str] = {}
    if content_type:
        headers["content-type"] = f"{content_type}; charset={charset}" if charset else content_type
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries:
        problem = parsed.get("bozo_exception")
        if parsed.bozo and not isinstance(problem, _HARMLESS_PROBLEMS):
            raise FetchError(f"{url}: malformed feed: {' '.join(str(problem or 'not a feed').split())[:200]}")
        if not parsed.get("version"):
            raise FetchError(f"{url}: not an RSS or Atom feed")
        return []  # a valid feed with no items today
    if parsed.bozo:
        log.info("feed=%s parsed with a problem (%s); keeping %d entries", url, parsed.get("bozo_exception"),
                 len(parsed.entries))
    articles = [entry_article(entry, feed_url=url, source=source, now=now) for entry in parsed.entries]
    return _unique(articles)


def _unique(articles: list[Article]) -> list[Article]:
    """Feeds repeat items; the first copy of an id wins so a batch never writes one id twice."""
    seen: set[str] = set()
    out = []
    for article in articles:
        if article.id not in seen:
            seen.add(article.id)
            out.append(article)
    return out


def entry_article(entry: feedparser.FeedParserDict, *, feed_url: str, source: str, now: datetime) -> Article:
    """One feed entry as an Article: canonical link, stable id, sanitized HTML and plain text."""
    link = str(_get(entry, "link") or "").strip()
    if link and not is_http_url(link) and is_http_url(feed_url) and not _get(entry, "guidislink"):
        link = urljoin(feed_url, link)
    url = canonical_url(link) if is_http_url(link) else None
    guid = _get(entry, "id") or None
    if guid is not None:
        guid = str(guid).strip()[:2000] or None
    if url is None and guid and is_http_url(guid):
        url = canonical_url(guid)
    base = url or (feed_url if is_http_url(feed_url) else None)
    markup, is_html = _entry_body(entry)
    if is_html:
        html = sanitize_html(markup, base)
        paragraphs = clean_paragraphs(html_to_paragraphs(html))
    else:
        html = ""
        paragraphs = clean_paragraphs(p.replace("\n", " ") for p in re.split(r"\n\s*\n", markup.replace("\r", "")))
    title = _entry_title(entry) or derive_title(paragraphs)
    published = _entry_time(entry)
    if url:
        key = url
    elif guid:
        key = f"guid:{source}:{guid}"
    else:
        key = f"item:{source}:{title}:{published.isoformat() if published else ''}"
    return Article(
        id=article_id(key),
        url=url or feed_url,
        title=title,
        source=source,
        text="\n\n".join(paragraphs),
        html=html,
        guid=guid,
        author=_entry_author(entry),
        published=published,
        fetched_at=now,
    )


def _entry_body(entry: feedparser.FeedParserDict) -> tuple[str, bool]:
    """The fullest body of an entry (content over summary) and whether it is HTML."""
    candidates = []
    for content in _get(entry, "content") or []:
        if isinstance(content, dict) and _get(content, "value"):
            candidates.append((_get(content, "value", ""), _get(content, "type", "text/html")))
    detail = _get(entry, "summary_detail") or {}
    if _get(entry, "summary"):
        candidates.append((_get(entry, "summary", ""), _get(detail, "type", "text/html") if isinstance(detail, dict) else "text/html"))
    if not candidates:
        return "", False
    value, kind = max(candidates, key=lambda c: len(c[0]))
    return str(value), (kind or "text/html") in _HTML_TYPES or "html" in (kind or "")


def _entry_title(entry: feedparser.FeedParserDict) -> str:
    title = _get(entry, "title") or ""
    detail = _get(entry, "title_detail") or {}
    kind = _get(detail, "type", "text/plain") if isinstance(detail, dict) else "text/plain"
    # RSS titles are "plain text" that often holds escaped markup: strip anything that looks like a tag.
    text = strip_tags(str(title)) if "html" in kind or _TAG_LIKE.search(str(title)) else normalize_line(str(title))
    return text[:500]


def _entry_author(entry: feedparser.FeedParserDict) -> str | None:
    detail = _get(entry, "author_detail") or {}
    name = _get(detail, "name") if isinstance(detail, dict) else None
    name = name or _get(entry, "author") or None
    return normalize_line(strip_tags(str(name)))[:200] or None if name else None


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    """feedparser normalizes every date format to a UTC struct_time."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = _get(entry, key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
    return None
