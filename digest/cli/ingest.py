"""`digest ingest` and `digest sources`."""

from __future__ import annotations

import click

from .. import pipeline
from ..storage import articles as article_store
from . import main
from .context import AppContext, format_table, format_when, pass_app


@main.command()
@pass_app
def ingest(app: AppContext) -> None:
    """Fetch every enabled source and store new articles.

    Feeds are fetched concurrently; a broken one is reported and skipped.

    \b
    Example:
        digest ingest && digest sources
    """
    config, conn = app.config, app.conn
    enabled = [s for s in config.sources if s.enabled]
    bar = iter(app.progress(range(len(enabled)), len(enabled), "Fetching"))
    report = pipeline.ingest(config, conn, on_result=lambda _result: next(bar, None))
    for _ in bar:
        pass
    app.echo(f"{len(report.results)} sources: {report.new} new articles, {report.updated} updated, "
             f"{report.unchanged} unchanged. {article_store.count_articles(conn)} articles stored in {config.db_path}.")
    for result in report.failed:
        click.echo(f"failed: {result.source}: {result.error}", err=True)


@main.command()
@pass_app
def sources(app: AppContext) -> None:
    """List the configured sources with their last fetch, status, item counts and last error.

    \b
    Example:
        digest sources
    """
    config, conn = app.config, app.conn
    states = article_store.feed_states(conn)
    stored = article_store.article_counts_by_source(conn)
    rows = [("NAME", "ENABLED", "LAST FETCH (UTC)", "STATUS", "ITEMS", "STORED", "LAST ERROR")]
    for s in config.sources:
        st = states.get(s.name)
        fetched = format_when(st.last_fetched if st else None, missing="never")
        rows.append((s.name, "yes" if s.enabled else "no", fetched, (st.last_status if st else None) or "-",
                     str(st.item_count if st else 0), str(stored.get(s.name, 0)), (st.last_error if st else None) or ""))
    for line in format_table(rows):
        click.echo(line)
