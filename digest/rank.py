"""Rank stage (placeholder until issue 4 lands): by source count, then headline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from .models import Issue, Summary


def rank_stories(summaries: Sequence[Summary], *, weights: Mapping[str, float], now: datetime) -> list[Summary]:
    """Order summaries by importance, setting each one's score."""
    scored = [replace(s, score=float(len(s.story.articles))) for s in summaries]
    return sorted(scored, key=lambda s: (-s.score, s.headline, s.story.id))


def make_issue(
    ranked: Sequence[Summary], *, key: str, day: date, title: str, max_stories: int, quick_hits: int
) -> Issue:
    """Cut the ranked list into full stories and quick hits; the top story names the issue."""
    top = ranked[0] if ranked else None
    return Issue(
        key=key, date=day, title=title,
        headline=top.headline if top else title,
        subtitle=top.rundown if top else "",
        stories=tuple(ranked[:max_stories]),
        quick_hits=tuple(ranked[max_stories : max_stories + quick_hits]),
    )
