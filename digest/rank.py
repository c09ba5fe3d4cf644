"""Rank stage: order the day's summaries and cut them into an Issue.

A story's score is a product of three factors::

    score = log2(1 + coverage) x recency x novelty

- *coverage*: the sum of the configured weights of the distinct outlets
  (independent sources) that reported the story; an outlet missing from
  `weights` counts DEFAULT_WEIGHT. Syndicated copies were already collapsed
  by dedup, so each outlet counts once. Three outlets of weight 1 give 2.0,
  one gives 1.0.
- *recency*: 0.5 + 0.5 x 2^(-age / RECENCY_HALF_LIFE_HOURS), age measured from
  the story's last article to `now`: a fresh story 1.0, a day-old one 0.75,
  never below 0.5, so recency reorders close calls without burying a big story.
- *novelty*: 1.0 for a new story, UPDATE_NOVELTY for an update of a story an
  earlier issue already told (`Story.update_of`).

Ties keep their input order (a stable sort), so the same input always gives
the same issue.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from .models import Issue, Story, Summary

DEFAULT_WEIGHT = 1.0
RECENCY_HALF_LIFE_HOURS = 24.0
UPDATE_NOVELTY = 0.5
SUBTITLE_MAX_WORDS = 30


def score_story(story: Story, *, weights: Mapping[str, float], now: datetime) -> float:
    """The rank score of one story (see the module docstring)."""
    outlets = dict.fromkeys(a.source for a in story.articles)
    coverage = sum(weights.get(name, DEFAULT_WEIGHT) for name in outlets)
    age_hours = max(0.0, (now - story.last_seen).total_seconds() / 3600)
    recency = 0.5 + 0.5 * 2 ** (-age_hours / RECENCY_HALF_LIFE_HOURS)
    novelty = UPDATE_NOVELTY if story.update_of else 1.0
    return math.log2(1 + coverage) * recency * novelty


def rank_stories(summaries: Sequence[Summary], *, weights: Mapping[str, float], now: datetime) -> list[Summary]:
    """Order summaries by importance, setting each one's score; ties keep input order."""
    scored = [replace(s, score=round(score_story(s.story, weights=weights, now=now), 6)) for s in summaries]
    return sorted(scored, key=lambda s: -s.score)


def select_stories(stories: Sequence[Story], *, weights: Mapping[str, float], now: datetime, limit: int) -> list[Story]:
    """The `limit` stories that will rank highest, in input order.

    The score depends on the story alone, so the pipeline can pick an issue's
    stories before summarizing: summaries are the expensive part, and a day
    with thousands of stories needs only a dozen of them.
    """
    order = sorted(range(len(stories)),
                   key=lambda i: -round(score_story(stories[i], weights=weights, now=now), 6))
    keep = sorted(order[:limit])
    return [stories[i] for i in keep]


def subtitle_for(summary: Summary) -> str:
    """One line under the issue headline: the top story's Rundown, first sentence, when short enough."""
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z“\"])", summary.rundown.strip(), maxsplit=1)[0]
    options = [first, *(p.text for p in summary.details)]
    for text in options:
        if text and len(text.split()) <= SUBTITLE_MAX_WORDS:
            return text
    words = first.split()
    return " ".join(words[:SUBTITLE_MAX_WORDS]).rstrip(",;:—–-") + "…" if words else ""


def make_issue(
    ranked: Sequence[Summary], *, key: str, day: date, title: str, max_stories: int, quick_hits: int
) -> Issue:
    """Cut the ranked list into full stories and quick hits; the top story names the issue."""
    top = ranked[0] if ranked else None
    return Issue(
        key=key, date=day, title=title,
        headline=top.headline if top else title,
        subtitle=subtitle_for(top) if top else "",
        stories=tuple(ranked[:max_stories]),
        quick_hits=tuple(ranked[max_stories : max_stories + quick_hits]),
    )
