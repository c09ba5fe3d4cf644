"""Dedup stage: articles -> stories, with exact and near copies collapsed and earlier issues remembered.

Four steps, each in its own module:

1. `duplicates.collapse_exact`: same canonical URL, GUID or normalized text.
2. `duplicates.collapse_near`: syndicated copies (word-shingle MinHash LSH).
3. `stories.cluster`: independent articles on one event (TF-IDF + names and
   figures, average linkage inside a time window).
4. `memory`: stories sent in earlier issues are dropped, or come back as
   updates when new articles bring new facts.

Everything runs on the articles sorted by id, so the input order never
changes the result.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from ..config import DedupSection
from ..models import Article, PastStory, Story
from .duplicates import CopyGroup, article_time, collapse_exact, collapse_near
from .memory import article_keys, is_copy_of_past, new_fact_score, past_facts
from .stories import Doc, Vectors, centrality, cluster, mean_similarity, vectorize

__all__ = ["group_stories", "story_id"]

HEADLINE_WORDS = (4, 25)  # a headline outside this range is a last resort (a dateline, a whole lead)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

log = logging.getLogger(__name__)


def story_id(article_ids: Sequence[str]) -> str:
    """The id of a story with these member articles (kept and collapsed), whatever their order."""
    joined = "\n".join(sorted(set(article_ids)))
    return "s" + hashlib.sha256(joined.encode()).hexdigest()[:15]


def group_stories(articles: Sequence[Article], settings: DedupSection, past: Sequence[PastStory] = ()) -> list[Story]:
    """Collapse copies, group articles on one event into stories, and drop what earlier issues told.

    Returns stories largest first (then oldest first). A story that matches a
    past one is returned only when its new articles bring new facts, with
    `update_of` set to the past story's id.
    """
    groups = collapse_exact(articles)
    exact_copies = sum(len(g.copies) for g in groups)
    groups = collapse_near(groups, settings.near_duplicate_threshold, settings.containment_threshold)
    groups.sort(key=lambda g: g.kept.id)
    kept_ids = {g.kept.id: i for i, g in enumerate(groups)}
    past_rows: dict[str, int] = {}
    extra: list[Article] = []
    for p in sorted(past, key=lambda p: p.id):
        for a in p.articles:
            if a.id in kept_ids:
                past_rows[a.id] = kept_ids[a.id]
            elif a.id not in past_rows:
                past_rows[a.id] = len(groups) + len(extra)
                extra.append(a)
    vectors = vectorize([Doc(g.kept.title, g.kept.text, g.normalized) for g in groups]
                        + [Doc(a.title, a.text) for a in extra])
    # The window compares publication times; an undated article (fetched_at only) is never outside it.
    times = [_epoch(min((a.published for a in g.members if a.published), default=None)) for g in groups]
    clusters = cluster(vectors, range(len(groups)), times, settings.story_threshold, settings.window_hours * 3600)
    central = centrality(vectors, clusters)
    stories = [_make_story([groups[i] for i in c], c, central) for c in clusters]
    told = updates = 0
    if past:
        remembered = []
        for story, rows in zip(stories, clusters):
            outcome = _against_past(story, rows, groups, past, past_rows, vectors, settings)
            if outcome is None:
                told += 1
            else:
                updates += outcome.update_of is not None
                remembered.append(outcome)
        stories = remembered
    stories.sort(key=lambda s: (-len(s.articles), s.first_seen, s.id))
    log.info("stage=dedup articles=%d exact_copies=%d near_copies=%d stories=%d already_told=%d updates=%d",
             len(articles), exact_copies, sum(len(g.copies) for g in groups) - exact_copies, len(stories),
             told, updates)
    return stories


def _epoch(t: datetime | None) -> float | None:
    return t.timestamp() if t else None


def _make_story(groups: list[CopyGroup], rows: list[int], central: dict[int, float]) -> Story:
    order = sorted(range(len(groups)), key=lambda k: (-round(central[rows[k]], 9),
                                                      _epoch(article_time(groups[k].kept)) or 0.0,
                                                      groups[k].kept.id))
    ordered = [groups[k] for k in order]
    members = [a for g in ordered for a in g.members]
    # Publication times when any member has one; a fetch time says when we looked, not when it happened.
    seen = [a.published for a in members if a.published] or [a.fetched_at for a in members if a.fetched_at]
    return Story(
        id=story_id([a.id for a in members]),
        headline=_best_headline([g.kept for g in ordered]),
        articles=tuple(g.kept for g in ordered),
        first_seen=min(seen) if seen else _EPOCH,
        last_seen=max(seen) if seen else _EPOCH,
        aliases={g.kept.id: tuple(a.id for a in g.copies) for g in ordered if g.copies},
    )


def _best_headline(articles: Sequence[Article]) -> str:
    """The first (most central) article's title of a sensible length; else the first title at all."""
    low, high = HEADLINE_WORDS
    for a in articles:
        title = " ".join(a.title.split())
        if low <= len(title.split()) <= high:
            return title
    return next((" ".join(a.title.split()) for a in articles if a.title.strip()), "(untitled)")


def _against_past(story: Story, rows: list[int], groups: list[CopyGroup], past: Sequence[PastStory],
                  past_rows: dict[str, int], vectors: Vectors, settings: DedupSection) -> Story | None:
    """The story as it should go out given earlier issues: unchanged, an update, or None (already told)."""
    members = {a.id: a for g in groups for a in g.members if g.kept.id in {x.id for x in story.articles}}
    mine = set().union(*(article_keys(a) for a in members.values()))
    best: tuple[float, str, PastStory, set[str]] | None = None
    for p in past:
        if not p.articles:
            continue
        theirs = set().union(*(article_keys(a) for a in p.articles))
        if mine & theirs:
            similarity = 1.0
        else:
            told_at = [t for t in (article_time(a) for a in p.articles) if t is not None]
            if told_at and story.first_seen - max(told_at) > timedelta(days=settings.memory_days):
                continue
            similarity = mean_similarity(vectors, rows, [past_rows[a.id] for a in p.articles])
            if similarity < settings.story_threshold:
                continue
        if best is None or (similarity, p.id) > (best[0], best[1]):
            best = (similarity, p.id, p, theirs)
    if best is None:
        return story
    _, _, p, theirs = best
    fresh = [a for a in story.articles
             if not is_copy_of_past(a, p, theirs, settings.near_duplicate_threshold, settings.containment_threshold)]
    if not fresh:
        return None
    score, _ = new_fact_score(fresh, past_facts(p))
    if score < settings.min_new_facts:
        return None
    fresh_ids = {a.id for a in fresh}
    ordered = tuple(a for a in story.articles if a.id in fresh_ids) + tuple(
        a for a in story.articles if a.id not in fresh_ids)
    return Story(id=story.id, headline=_best_headline(ordered[:len(fresh)]), articles=ordered,
                 first_seen=story.first_seen, last_seen=story.last_seen, aliases=story.aliases, update_of=p.id)
