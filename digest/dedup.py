"""Dedup stage (placeholder until issue 3 lands): one story per article."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone

from .config import DedupSection
from .models import Article, PastStory, Story


def group_stories(articles: Sequence[Article], settings: DedupSection, past: Sequence[PastStory] = ()) -> list[Story]:
    """Group articles into stories. Placeholder: every article is its own story."""
    stories = []
    for a in sorted(articles, key=lambda a: a.id):
        when = a.published or a.fetched_at or datetime.now(timezone.utc)
        sid = hashlib.sha256(a.id.encode()).hexdigest()[:16]
        stories.append(Story(id=sid, headline=a.title, articles=(a,), first_seen=when, last_seen=when))
    return stories
