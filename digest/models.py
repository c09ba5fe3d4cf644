"""Plain typed objects that flow one way through the pipeline.

ingest -> Article; dedup -> Story; summarize -> Summary; rank -> Issue;
render -> RenderedIssue; deliver -> SendReport. Only these types cross stage
boundaries. They are frozen: a stage returns new objects, never edits old ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Article:
    """One normalized article, from a feed item or a local file."""

    id: str  # stable: derived from the canonical URL (or GUID / file path)
    url: str  # canonical URL (tracking junk removed) or file:// URI
    title: str
    source: str  # the configured source name (the outlet)
    text: str  # plain text, boilerplate stripped, paragraphs split by "\n\n"
    html: str = ""  # sanitized HTML; empty when the source was plain text
    guid: str | None = None
    author: str | None = None
    published: datetime | None = None  # timezone-aware UTC, None when unknown
    fetched_at: datetime | None = None  # timezone-aware UTC


@dataclass(frozen=True)
class FeedState:
    """What we remember about one source between fetches (conditional GET)."""

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: datetime | None = None
    last_status: str | None = None  # "ok", "not-modified" or "error"
    last_error: str | None = None
    item_count: int = 0
    fetch_url: str | None = None  # where a permanent redirect moved `url`; fetched instead of it while `url` is unchanged


@dataclass(frozen=True)
class SourceResult:
    """The outcome of fetching one source: its articles or its error."""

    source: str
    articles: tuple[Article, ...] = ()
    state: FeedState | None = None  # new conditional-GET state to store
    error: str | None = None  # one line, None on success
    not_modified: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class SourceRef:
    """One outlet's coverage of a story, as shown on the *Sources:* line."""

    article_id: str
    name: str
    url: str
    published: datetime | None = None


@dataclass(frozen=True)
class Story:
    """Articles about one event, grouped by dedup: one story, several sources."""

    id: str  # stable for the same membership, whatever the input order
    headline: str
    articles: tuple[Article, ...]  # distinct articles, best first
    first_seen: datetime
    last_seen: datetime
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kept id -> collapsed duplicate ids
    update_of: str | None = None  # id of a story sent in an earlier issue

    @property
    def sources(self) -> tuple[SourceRef, ...]:
        return tuple(SourceRef(a.id, a.source, a.url, a.published) for a in self.articles)


@dataclass(frozen=True)
class PastStory:
    """A story that went out in an earlier issue: dedup's memory across issues."""

    id: str
    headline: str
    issue_key: str
    articles: tuple[Article, ...]
    key_points: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyPoint:
    """One ranked fact with the articles that reported it."""

    text: str
    score: float
    article_ids: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    """A story told in the Tech Rundown shape."""

    story: Story
    headline: str
    rundown: str
    details: tuple[KeyPoint, ...]
    why_it_matters: str | None
    kicker: str = ""  # the companies or sources involved
    score: float = 0.0  # story rank score, set by rank


@dataclass(frozen=True)
class Issue:
    """One edition: ranked stories and the headline taken from the top one."""

    key: str  # the slot, e.g. "2025-01-29" (date in the configured timezone)
    date: date
    title: str  # newsletter name
    headline: str
    subtitle: str
    stories: tuple[Summary, ...]  # full stories, in rank order
    quick_hits: tuple[Summary, ...] = ()  # lower-ranked stories, one line each


@dataclass(frozen=True)
class RenderedIssue:
    """An issue rendered once; delivery personalizes by substitution."""

    issue: Issue
    archive_html: str  # web copy: no personal data
    email_html: str  # with placeholders filled per subscriber
    text: str  # plain-text part, with the same placeholders
    mjml: str
    json: str


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    first_name: str | None = None
    status: str = "active"  # active / unsubscribed / bounced
