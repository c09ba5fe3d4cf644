"""`digest summarize`: several articles in, one story's summary out."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import click

from .. import ingest
from ..config import Config
from ..errors import InputError
from ..models import Article, Story, Summary
from ..summarize import summarize_story, trim_summary
from . import main
from .context import AppContext, pass_app


@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option("--points", type=click.IntRange(1, 20), default=None,
              help="Key points at most (default: [digest].max_key_points).")
@click.option("--words", type=click.IntRange(10, 10_000), default=None,
              help="Cap the whole summary at this many words (lowest points go first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: headline, rundown, details with scores and sources.")
@pass_app
def summarize(app: AppContext, targets: tuple[str, ...], points: int | None, words: int | None, as_json: bool) -> None:
    """Summarize articles (files, folders, feeds or URLs) as ONE story.

    Prints the headline, The Rundown, the ranked details with the sources
    each came from, and Why it matters. Works offline with the built-in
    extractive summarizer; config.toml is used when present.

    \b
    Example:
        digest summarize seeds/*.txt --points 5
        digest summarize https://example.com/a.html article.md --json
    """
    config = app.config if app.config_path.exists() else Config(base_dir=Path.cwd())
    articles: list[Article] = []
    for target in targets:
        articles.extend(ingest.load_articles(target, base_dir=Path.cwd(), settings=config.ingest))
    if not articles:
        raise InputError(f"no article text found in {', '.join(targets)}")
    story = story_of(articles)
    d = config.digest
    max_points = points or d.max_key_points
    summary = summarize_story(
        story, config.summarize, max_points=max_points, min_points=min(d.min_key_points, max_points),
        llm=config.llm if config.summarize.backend == "llm" else None,
    )
    if words:
        summary = trim_summary(summary, words)
    app.echo(json.dumps(summary_json(summary), indent=2, ensure_ascii=False) if as_json else summary_text(summary))


def story_of(articles: list[Article]) -> Story:
    """The given articles as one story, best (longest) first, duplicates by id dropped."""
    unique = list({a.id: a for a in articles}.values())
    now = datetime.now(timezone.utc)
    dates = [a.published or a.fetched_at or now for a in unique]
    story_id = hashlib.sha256("\n".join(sorted(a.id for a in unique)).encode()).hexdigest()[:16]
    return Story(id=story_id, headline=unique[0].title, articles=tuple(unique), first_seen=min(dates),
                 last_seen=max(dates))


def summary_text(summary: Summary) -> str:
    """The summary as a reader sees it in the text part of an issue."""
    names = {a.id: a.source for a in summary.story.articles}
    lines = [summary.headline, "=" * len(summary.headline), ""]
    if summary.kicker:
        lines += [summary.kicker, ""]
    lines += [f"The Rundown: {summary.rundown}", ""]
    if summary.details:
        lines.append("The details:")
        for point in summary.details:
            sources = ", ".join(dict.fromkeys(names.get(i, i) for i in point.article_ids))
            lines.append(f"  - {point.text} [{sources}]")
        lines.append("")
    if summary.why_it_matters:
        lines += [f"Why it matters: {summary.why_it_matters}", ""]
    lines.append("Sources: " + ", ".join(f"{s.name} <{s.url}>" for s in summary.story.sources))
    return "\n".join(lines)


def summary_json(summary: Summary) -> dict:
    return {
        "headline": summary.headline,
        "kicker": summary.kicker,
        "rundown": summary.rundown,
        "details": [{"text": p.text, "score": p.score, "sources": list(p.article_ids)} for p in summary.details],
        "why_it_matters": summary.why_it_matters,
        "sources": [{"id": s.article_id, "name": s.name, "url": s.url,
                     "published": s.published.isoformat() if s.published else None} for s in summary.story.sources],
    }

