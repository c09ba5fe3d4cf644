"""Copies of one text: exact duplicates (URL, GUID, normalized text) and near-duplicates (MinHash LSH).

Both steps turn articles into `CopyGroup`s: one kept article and the copies
collapsed into it. Near-duplicate search indexes word-shingle MinHashes in a
datasketch `MinHashLSH`, so each article meets only the few candidates that
share a band, never every other article; candidates are then checked with the
exact shingle Jaccard (or containment, for a copy with paragraphs cut).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from datasketch import MinHash, MinHashLSH

from ..models import Article
from .text import canonical_url, normalize_text, shingles, text_hash

NUM_PERM = 32  # MinHash size: enough for candidate search, the check is exact
LSH_SLACK = 0.15  # search below the threshold so MinHash noise does not lose true copies
WITHIN_MAX = 60  # a story with more distinct texts than this is not searched pair by pair for cut copies
WITHIN_RATIO = 0.6  # only a text this much shorter than another can be a cut copy the LSH missed
MIN_TEXT_WORDS = 20  # shorter texts (teasers) are compared with their title included
TEASER_RATIO = 0.5  # a copy this much shorter than the longest is never the one kept

log = logging.getLogger(__name__)


@dataclass
class CopyGroup:
    """One distinct text: the article kept and the duplicates collapsed into it."""

    kept: Article
    copies: list[Article] = field(default_factory=list)
    normalized: str = ""
    shingles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    words: int = 0  # words of the normalized text

    @property
    def members(self) -> list[Article]:
        return [self.kept, *self.copies]


def article_time(a: Article) -> datetime | None:
    """When an article appeared: published, else first fetched."""
    return a.published or a.fetched_at


def comparable_text(a: Article) -> str:
    """The text compared for copies: the body, with the title in front when the body is a teaser."""
    text = a.text or ""
    if len(text.split()) < MIN_TEXT_WORDS:
        text = f"{a.title}\n\n{text}"
    return text


def _pick_kept(members: Sequence[Article], words: dict[str, int]) -> Article:
    """The earliest copy that is not a much shorter teaser; ties go to the longer, then the id."""
    longest = max(words[a.id] for a in members)
    full = [a for a in members if words[a.id] >= TEASER_RATIO * longest]
    return min(full, key=lambda a: (_sort_time(a), -words[a.id], a.id))


def _sort_time(a: Article) -> str:
    t = article_time(a)
    return t.isoformat() if t else "9999"


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return list(out.values())


def collapse_exact(articles: Sequence[Article]) -> list[CopyGroup]:
    """Group articles with the same canonical URL, GUID or normalized text; keep one of each group."""
    articles = sorted({a.id: a for a in articles}.values(), key=lambda a: a.id)
    uf = _UnionFind(len(articles))
    first_by_key: dict[str, int] = {}
    normalized = [normalize_text(comparable_text(a)) for a in articles]
    for i, a in enumerate(articles):
        keys = [f"url:{canonical_url(a.url)}"]
        if normalized[i]:
            keys.append(f"txt:{text_hash(normalized[i])}")
        if a.guid:
            keys.append(f"guid:{a.guid.strip()}")
        for key in keys:
            j = first_by_key.setdefault(key, i)
            if j != i:
                uf.union(i, j)
    words = {a.id: len(normalized[i].split()) for i, a in enumerate(articles)}
    groups = []
    for idx in sorted(uf.groups()):
        members = [articles[i] for i in idx]
        kept = _pick_kept(members, words)
        k = next(i for i in idx if articles[i].id == kept.id)
        groups.append(CopyGroup(kept, sorted((a for a in members if a is not kept), key=lambda a: a.id),
                                normalized[k], words=words[kept.id]))
    return groups


def _minhash(shingle_hashes: np.ndarray, permutations: np.ndarray) -> MinHash:
    m = MinHash(num_perm=len(permutations[0]), permutations=permutations, scheme="affine32", hashfunc=int)
    m.update_batch(shingle_hashes.tolist())
    return m


def similar_texts(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger) of two sorted unique shingle-hash arrays."""
    if not len(a) or not len(b):
        return 0.0, 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter), inter / min(len(a), len(b))


def collapse_near(groups: list[CopyGroup], threshold: float, containment: float) -> list[CopyGroup]:
    """Merge groups whose texts are near-copies (shingle Jaccard >= threshold, or containment).

    A MinHash LSH index over whole texts finds the candidates (copies with a
    byline, ads, a footer or an added paragraph); each is checked exactly. A
    copy cut short has a low Jaccard with its full text and is rarely a
    candidate here: `collapse_within` catches it once it shares a story.
    """
    for g in groups:
        g.shingles = shingles(g.normalized)
    permutations = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations
    index = MinHashLSH(threshold=max(0.05, threshold - LSH_SLACK), num_perm=NUM_PERM)
    uf = _UnionFind(len(groups))
    pairs = 0
    for i, g in enumerate(groups):
        if not len(g.shingles):
            continue
        # Query the texts indexed so far, then index this one: each pair is met once, no sketch is kept.
        sketch = _minhash(g.shingles, permutations)
        for j in sorted(index.query(sketch)):
            pairs += 1
            if _is_copy(g.shingles, groups[j].shingles, threshold, containment):
                uf.union(i, j)
        index.insert(i, sketch, check_duplication=False)
    log.debug("near-duplicates: %d texts, %d candidate pairs checked", len(groups), pairs)
    return _merge(groups, uf)


def collapse_within(groups: list[CopyGroup], threshold: float, containment: float) -> list[CopyGroup]:
    """Merge near-copies among the few groups of one story, comparing every pair (cut copies included)."""
    if len(groups) < 2 or len(groups) > WITHIN_MAX:
        return groups
    marks: dict[int, np.ndarray] = {}

    def mark(i: int) -> np.ndarray:
        if i not in marks:
            marks[i] = groups[i].shingles if len(groups[i].shingles) else shingles(groups[i].normalized)
        return marks[i]

    uf = _UnionFind(len(groups))
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            short, long = sorted((groups[i].words, groups[j].words))
            # Texts of similar length that are copies have a high Jaccard: collapse_near found them already.
            if short < WITHIN_RATIO * long and _is_copy(mark(i), mark(j), threshold, containment):
                uf.union(i, j)
    return _merge(groups, uf)


def _is_copy(a: np.ndarray, b: np.ndarray, threshold: float, containment: float) -> bool:
    jaccard, contained = similar_texts(a, b)
    return jaccard >= threshold or contained >= containment


def _merge(groups: list[CopyGroup], uf: _UnionFind) -> list[CopyGroup]:
    merged = []
    for idx in sorted(uf.groups()):
        if len(idx) == 1:
            merged.append(groups[idx[0]])
            continue
        members = [a for i in idx for a in groups[i].members]
        words = {a.id: len(groups[i].normalized.split()) for i in idx for a in groups[i].members}
        kept = _pick_kept([groups[i].kept for i in idx], words)
        home = next(groups[i] for i in idx if groups[i].kept.id == kept.id)
        merged.append(CopyGroup(kept, sorted((a for a in members if a is not kept), key=lambda a: a.id),
                                home.normalized, home.shingles, home.words))
    return merged
