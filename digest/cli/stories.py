"""`digest stories`: what dedup makes of the stored articles right now."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from .. import pipeline
from ..models import Article, Story
from ..storage import articles as article_store
from . import main
from .context import AppContext, format_when, pass_app


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print every story with the ids, URLs or file paths of its articles and their collapsed copies.")
@pass_app
def stories(app: AppContext, as_json: bool) -> None:
    """List the current stories: the lookback window's articles grouped by dedup.

    One line per story: how many sources, the time span of its articles
    (UTC) and its headline; "(update)" marks a story told in an earlier
    issue that new articles brought back. Stories already told without
    anything new are not listed.

    \b
    Example:
        digest ingest && digest stories
        digest stories --json
    """
    config, conn = app.config, app.conn
    found = pipeline.collect_stories(config, conn, datetime.now(timezone.utc))
    if as_json:
        copy_ids = [cid for s in found for ids in s.aliases.values() for cid in ids]
        copies = {a.id: a for a in article_store.articles_by_id(conn, copy_ids)}
        app.echo(json.dumps([_story_json(s, copies) for s in found], indent=2, ensure_ascii=False))
        return
    collapsed = sum(len(ids) for s in found for ids in s.aliases.values())
    articles = sum(len(s.articles) for s in found) + collapsed
    app.echo(f"{len(found)} stories from {articles} articles ({collapsed} duplicate copies collapsed).")
    if not found:
        return
    app.echo(f"{'SOURCES':>7}  {'FIRST SEEN':16} - {'LAST SEEN':16}  HEADLINE")
    for s in found:
        marker = "(update) " if s.update_of else ""
        app.echo(f"{len(s.articles):>7}  {format_when(s.first_seen)} - {format_when(s.last_seen)}  {marker}{s.headline}")


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat() if t else None


def _article_json(a: Article) -> dict[str, object]:
    return {"id": a.id, "source": a.source, "title": a.title, "url": a.url, "published": _iso(a.published)}


def _story_json(s: Story, copies: dict[str, Article]) -> dict[str, object]:
    return {
        "id": s.id,
        "headline": s.headline,
        "sources": len(s.articles),
        "first_seen": _iso(s.first_seen),
        "last_seen": _iso(s.last_seen),
        "update_of": s.update_of,
        "articles": [
            {**_article_json(a),
             "copies": [_article_json(copies[cid]) if cid in copies else {"id": cid}
                        for cid in s.aliases.get(a.id, ())]}
            for a in s.articles
        ],
    }
