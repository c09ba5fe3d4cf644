"""Memory across issues: what a past story told, and whether new articles add to it.

`group_stories` matches a new story to a past one when they share an
article (or an exact copy of one), or when their articles are as similar as
one story's are (the same average-link test that built the story) within
`memory_days`. A matched story is dropped unless its new articles (not
copies of the past ones) name figures or names the past story never had, in
its articles, headline or key points sent. The helpers for that live here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models import Article, PastStory
from .duplicates import comparable_text, similar_texts
from .text import canonical_url, facts, normalize_text, shingles, text_hash

NAME_WEIGHT = 0.5  # a new name counts half a new figure: a fresh outlet quotes new people anyway


def article_keys(a: Article) -> set[str]:
    """Keys under which two articles are the same text (URL, GUID, normalized text)."""
    keys = {f"id:{a.id}", f"url:{canonical_url(a.url)}"}
    if a.guid:
        keys.add(f"guid:{a.guid.strip()}")
    normalized = normalize_text(comparable_text(a))
    if normalized:
        keys.add(f"txt:{text_hash(normalized)}")
    return keys


def is_copy_of_past(a: Article, past: PastStory, past_keys: set[str], threshold: float,
                    containment: float) -> bool:
    """Whether `a` is one of the past story's articles or a near-copy of one."""
    if article_keys(a) & past_keys:
        return True
    mine = shingles(normalize_text(comparable_text(a)))
    for old in past.articles:
        jaccard, contained = similar_texts(mine, shingles(normalize_text(comparable_text(old))))
        if jaccard >= threshold or contained >= containment:
            return True
    return False


def past_facts(past: PastStory) -> set[str]:
    """The names and figures a past story told: its articles, headline and key points."""
    told = [past.headline, *past.key_points]
    for a in past.articles:
        told += [a.title, a.text]
    return facts("\n\n".join(told))


def new_fact_score(articles: Sequence[Article], known: set[str]) -> tuple[float, set[str]]:
    """How much `articles` add to what was told: figures count 1, names NAME_WEIGHT."""
    fresh: set[str] = set()
    for a in articles:
        fresh |= facts(f"{a.title}.\n\n{a.text}") - known
    score = sum(1.0 if f.startswith("#") else NAME_WEIGHT for f in fresh)
    return score, fresh
