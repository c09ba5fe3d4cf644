"""Summarize stage (placeholder until issue 4 lands): leading sentences as points."""

from __future__ import annotations

import re

from .config import LLMSection, SummarizeSection
from .models import KeyPoint, Story, Summary


def summarize_story(
    story: Story,
    settings: SummarizeSection,
    *,
    max_points: int,
    min_points: int,
    llm: LLMSection | None = None,
) -> Summary:
    """Summarize one story. Placeholder: the first sentences of the first article."""
    lead = story.articles[0]
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", lead.text) if s.strip()]
    points = tuple(KeyPoint(s, 1.0 / (i + 1), (lead.id,)) for i, s in enumerate(sentences[1 : 1 + max_points]))
    return Summary(story=story, headline=story.headline, rundown=sentences[0] if sentences else "",
                   details=points, why_it_matters=None, kicker=lead.source)
