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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from ..config import DedupSection
from ..models import Article, PastStory, Story
from .duplicates import CopyGroup, article_time, collapse_exact, collapse_near, collapse_within
from .memory import article_keys, is_copy_of_past, new_fact_score, past_facts
from .stories import Doc, Vectors, centrality, cluster, mean_similarities, vectorize

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
    for g in groups:
        g.shingles = g.shingles[:0]  # frees memory on big batches; collapse_within recomputes the few it needs
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
    row_of = {g.kept.id: i for i, g in enumerate(groups)}
    stories = []
    for c in clusters:
        # A copy cut short joins its original's story; only there is it found (every pair of a story is compared).
        story_groups = collapse_within([groups[i] for i in c], settings.near_duplicate_threshold,
                                       settings.containment_threshold)
        stories.append(_make_story(story_groups, [row_of[g.kept.id] for g in story_groups], central))
    copies = sum(len(ids) for s in stories for ids in s.aliases.values())
    told = updates = 0
    if past:
        stories, told, updates = _remember(stories, clusters, groups, past, past_rows, vectors, settings)
    stories.sort(key=lambda s: (-len(s.articles), s.first_seen, s.id))
    log.info("stage=dedup articles=%d exact_copies=%d near_copies=%d stories=%d already_told=%d updates=%d",
             len(articles), exact_copies, copies - exact_copies, len(stories),
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


@dataclass
class _Told:
    """A past story, ready to compare: its article keys, vector rows and last publication."""

    story: PastStory
    keys: set[str]
    rows: list[int]
    last: datetime | None


def _remember(stories: list[Story], clusters: list[list[int]], groups: list[CopyGroup], past: Sequence[PastStory],
              past_rows: dict[str, int], vectors: Vectors, settings: DedupSection) -> tuple[list[Story], int, int]:
    """Drop stories earlier issues told; mark those brought back by new facts as updates."""
    told_before = [
        _Told(p, set().union(*(article_keys(a) for a in p.articles)), [past_rows[a.id] for a in p.articles],
              max((t for t in (article_time(a) for a in p.articles) if t), default=None))
        for p in sorted(past, key=lambda p: p.id) if p.articles
    ]
    similarity = mean_similarities(vectors, clusters, [t.rows for t in told_before])
    by_key: dict[str, set[int]] = {}
    for k, t in enumerate(told_before):
        for key in t.keys:
            by_key.setdefault(key, set()).add(k)
    kept, told, updates = [], 0, 0
    for s, story in enumerate(stories):
        members = [a for g in (groups[i] for i in clusters[s]) for a in g.members]
        keys = set().union(*(article_keys(a) for a in members))
        best: tuple[float, str, int] | None = None
        shared = set().union(*(by_key.get(key, set()) for key in keys))
        for k, t in enumerate(told_before):
            if k in shared:
                score = 1.0  # an article (or its exact copy) went out already
            else:
                score = similarity.get((s, k), 0.0)
                too_old = t.last is not None and story.first_seen - t.last > timedelta(days=settings.memory_days)
                if score < settings.story_threshold or too_old:
                    continue
            if best is None or (score, t.story.id) > best[:2]:
                best = (score, t.story.id, k)
        if best is None:
            kept.append(story)
            continue
        outcome = _as_update(story, told_before[best[2]], settings)
        if outcome is None:
            told += 1
        else:
            updates += 1
            kept.append(outcome)
    return kept, told, updates


def _as_update(story: Story, before: _Told, settings: DedupSection) -> Story | None:
    """The story as an update of `before` when its new articles bring new facts; None when nothing is new."""
    fresh = [a for a in story.articles
             if not is_copy_of_past(a, before.story, before.keys, settings.near_duplicate_threshold,
                                    settings.containment_threshold)]
    if not fresh:
        return None
    score, _ = new_fact_score(fresh, past_facts(before.story))
    if score < settings.min_new_facts:
        return None
    fresh_ids = {a.id for a in fresh}
    ordered = tuple(a for a in story.articles if a.id in fresh_ids) + tuple(
        a for a in story.articles if a.id not in fresh_ids)
    return replace(story, headline=_best_headline(ordered[:len(fresh)]), articles=ordered,
                   update_of=before.story.id)
