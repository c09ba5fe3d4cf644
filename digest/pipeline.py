"""The only module that runs the stages in order.

ingest -> dedup -> summarize -> rank -> render -> deliver. Each stage is a
function of plain objects; this module does the I/O around them (reading
and writing the store, the output folder) so the stages stay pure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import storage
from .config import Config
from .ingest import fetch_sources
from .models import SourceResult
from .storage import articles as article_store

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
