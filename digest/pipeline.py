"""The only module that runs the stages in order.

ingest -> dedup -> summarize -> rank -> render -> deliver. Each stage is a
function of plain objects; this module does the I/O around them (reading
and writing the store, the output folder) so the stages stay pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import storage
from .config import Config
from .dedup import group_stories
from .ingest import fetch_sources
from .models import PastStory, RenderedIssue, SourceResult, Story
from .rank import make_issue, rank_stories
from .render import render_issue, write_issue
from .storage import articles as article_store
from .summarize import summarize_story

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run did, source by source."""

    results: list[SourceResult] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if not r.ok]


def ingest(
    config: Config,
    conn: storage.Connection,
    *,
    on_result: Callable[[SourceResult], None] | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Fetch every enabled source concurrently and store what is new; a broken source is recorded and skipped."""
    now = now or datetime.now(timezone.utc)
    sources = [s for s in config.sources if s.enabled]
    states = article_store.feed_states(conn)
    report = IngestReport()
    for result in fetch_sources(sources, states, config.ingest, base_dir=config.base_dir, now=now):
        counts = article_store.save_articles(conn, result.articles, now=now)
        if result.state is not None:
            article_store.save_feed_state(conn, result.state)
        report.results.append(result)
        report.new += counts.new
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        if result.ok:
            log.info("source=%s items=%d new=%d updated=%d%s", result.source, len(result.articles),
                     counts.new, counts.updated, " not-modified" if result.not_modified else "")
        else:
            log.warning("source=%s failed: %s", result.source, result.error)
        if on_result:
            on_result(result)
    return report


@dataclass(frozen=True)
class BuildResult:
    """A built issue and where its files are."""

    rendered: RenderedIssue
    folder: Path
    story_count: int


def issue_key(config: Config, now: datetime) -> str:
    """The slot an issue belongs to: its date in the configured time zone."""
    return now.astimezone(config.tz).date().isoformat()


def past_stories(conn: storage.Connection, before_key: str) -> list[PastStory]:
    """Stories of earlier issues (placeholder until the issues table lands)."""
    return []


def collect_stories(config: Config, conn: storage.Connection, now: datetime) -> list[Story]:
    """Group the articles of the lookback window into stories, minus what earlier issues told."""
    since = now - timedelta(hours=config.digest.lookback_hours)
    articles = article_store.articles_since(conn, since)
    return group_stories(articles, config.dedup, past_stories(conn, before_key=issue_key(config, now)))


def build(config: Config, conn: storage.Connection, *, now: datetime | None = None) -> BuildResult:
    """dedup -> summarize -> rank -> render -> write out/<date>/, for the issue of `now`'s date."""
    now = now or datetime.now(timezone.utc)
    rendered = draft(config, conn, now=now)
    issue = rendered.issue
    folder = write_issue(rendered, config.output_dir)
    log.info("stage=build issue=%s stories=%d quick_hits=%d folder=%s",
             issue.key, len(issue.stories), len(issue.quick_hits), folder)
    return BuildResult(rendered, folder, len(issue.stories))


def draft(config: Config, conn: storage.Connection, *, now: datetime | None = None) -> RenderedIssue:
    """dedup -> summarize -> rank -> render, without writing or recording anything (`digest preview` uses it)."""
    now = now or datetime.now(timezone.utc)
    key = issue_key(config, now)
    stories = collect_stories(config, conn, now)
    d = config.digest
    summaries = [
        summarize_story(s, config.summarize, max_points=d.max_key_points, min_points=d.min_key_points,
                        llm=config.llm if config.summarize.backend == "llm" else None)
        for s in stories
    ]
    weights = {s.name: s.weight for s in config.sources}
    ranked = rank_stories(summaries, weights=weights, now=now)
    issue = make_issue(ranked, key=key, day=now.astimezone(config.tz).date(), title=d.title,
                       max_stories=d.max_stories, quick_hits=d.quick_hits)
    templates = config.path(config.render.templates_dir) if config.render.templates_dir else DEFAULT_TEMPLATES
    return render_issue(issue, digest=d, settings=config.render, templates_dir=templates)
