"""Independent articles about one event -> one cluster.

Each article becomes one sparse vector made of three L2-normalized TF-IDF
blocks, weighted so that a dot product is a similarity in [0, 1]:

* body: content words of the title and text (sublinear tf),
* title: content words of the headline,
* facts: names and figures ("Nvidia", "H800", "5.6m", "17%").

IDF is computed on the batch, so a word every chip story uses ("export")
weighs little in a day full of chip stories while the names and numbers
that tell two events apart weigh most. Candidate pairs come from an inverted
index on each article's top-weighted terms (terms in more than
`BLOCK_MAX_DF` articles are no event's signature and are skipped there), so
the cost grows about linearly. Clusters form by average-linkage
agglomeration over those candidates: two clusters merge only when the mean
similarity of all their cross pairs clears the threshold and the merged
cluster spans no more than the time window, which keeps one off-topic pair
from chaining two events together.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .text import content_terms, facts

BODY_WORDS = 600  # words of text read per article: the event is told near the top
WEIGHTS = {"b": 0.6, "t": 0.1, "f": 0.3}  # body, title, facts; they sum to 1
BLOCK_TERMS = 12  # top-weighted terms per article used to find candidates
BLOCK_MAX_DF = 256  # a term in more articles than this is not used to find candidates
PAIR_CHUNK = 200_000  # candidate pairs scored at once (bounds memory)


@dataclass(frozen=True)
class Doc:
    """What the vectorizer reads of one article."""

    title: str
    text: str


@dataclass
class Vectors:
    """One weighted TF-IDF row per document; `matrix[i] @ matrix[j]` is their similarity."""

    matrix: sparse.csr_matrix
    df: np.ndarray  # documents per column

    def row(self, i: int) -> dict[int, float]:
        start, end = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        return dict(zip(self.matrix.indices[start:end].tolist(), self.matrix.data[start:end].tolist()))


def _features(doc: Doc) -> dict[str, Counter]:
    return {
        "b": Counter(content_terms(f"{doc.title}\n\n{doc.text}", limit=BODY_WORDS)),
        "t": Counter(content_terms(doc.title)),
        "f": Counter(facts(f"{doc.title}.\n\n{doc.text}")),
    }


def vectorize(docs: Sequence[Doc]) -> Vectors:
    """Weighted, block-normalized TF-IDF rows for `docs`, IDF fitted on `docs` themselves."""
    vocab: dict[str, int] = {}
    per_doc: list[list[tuple[str, list[int], list[float]]]] = []
    for doc in docs:
        blocks = []
        for block, counts in _features(doc).items():
            cols, tfs = [], []
            for term in sorted(counts):
                cols.append(vocab.setdefault(f"{block}:{term}", len(vocab)))
                tfs.append(1.0 + math.log(counts[term]))
            blocks.append((block, cols, tfs))
        per_doc.append(blocks)
    df = np.zeros(len(vocab), dtype=np.int64)
    for blocks in per_doc:
        for _, cols, _ in blocks:
            df[cols] += 1
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    indptr, indices, data = [0], [], []
    for blocks in per_doc:
        row_cols: list[int] = []
        row_vals: list[float] = []
        for block, cols, tfs in blocks:
            if not cols:
                continue
            linkable = df[cols] >= 2  # a term no other article has cannot link; it would only dilute
            cols = [c for c, k in zip(cols, linkable) if k]
            if not cols:
                continue
            vals = np.asarray(tfs)[linkable] * idf[cols]
            vals *= math.sqrt(WEIGHTS[block]) / float(np.linalg.norm(vals))
            row_cols.extend(cols)
            row_vals.extend(vals.tolist())
        indices.extend(row_cols)
        data.extend(row_vals)
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64),
                                np.asarray(indptr, dtype=np.int64)), shape=(len(docs), len(vocab)))
    matrix.sort_indices()
    return Vectors(matrix, df)


def candidate_pairs(vectors: Vectors, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of `rows` that share one of their top-weighted, not-too-common terms."""
    m = vectors.matrix[rows]
    usable = (vectors.df >= 2) & (vectors.df <= BLOCK_MAX_DF)
    b_rows, b_cols = [], []
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        cols, vals = m.indices[start:end], m.data[start:end]
        keep = usable[cols]
        cols, vals = cols[keep], vals[keep]
        if len(cols) > BLOCK_TERMS:
            top = np.lexsort((cols, -vals))[:BLOCK_TERMS]
            cols = cols[top]
        b_rows.extend([r] * len(cols))
        b_cols.extend(cols.tolist())
    block = sparse.csr_matrix((np.ones(len(b_rows), dtype=np.int32), (b_rows, b_cols)), shape=m.shape)
    shared = sparse.triu(block @ block.T, k=1).tocoo()
    return rows[shared.row], rows[shared.col]


def pair_scores(vectors: Vectors, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact similarity of each (left[k], right[k]) pair."""
    out = np.empty(len(left), dtype=np.float64)
    for s in range(0, len(left), PAIR_CHUNK):
        a = vectors.matrix[left[s:s + PAIR_CHUNK]]
        b = vectors.matrix[right[s:s + PAIR_CHUNK]]
        out[s:s + PAIR_CHUNK] = np.asarray(a.multiply(b).sum(axis=1)).ravel()
    return out


def _dot(a: dict[int, float], b: dict[int, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b[k] for k, v in a.items() if k in b)


def _add(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


def cluster(vectors: Vectors, rows: Sequence[int], times: Sequence[float | None], threshold: float,
            window_seconds: float) -> list[list[int]]:
    """Average-linkage clusters of `rows` (indices into `vectors`); `times` are epoch seconds per row."""
    rows_arr = np.asarray(rows, dtype=np.int64)
    left, right = candidate_pairs(vectors, rows_arr)
    scores = pair_scores(vectors, left, right)
    keep = scores >= threshold
    left, right, scores = left[keep], right[keep], scores[keep]
    t = dict(zip(rows, times))
    parent = {r: r for r in rows}
    size = {r: 1 for r in rows}
    span = {r: (t[r], t[r]) for r in rows}
    sums: dict[int, dict[int, float]] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def total(root: int) -> dict[int, float]:
        if root not in sums:
            sums[root] = vectors.row(root)
        return sums[root]

    def fits(ra: int, rb: int) -> bool:
        (a0, a1), (b0, b1) = span[ra], span[rb]
        known = [x for x in (a0, a1, b0, b1) if x is not None]
        return not known or max(known) - min(known) <= window_seconds

    # Heap entries carry the cluster sizes they were scored with; a stale one is rescored.
    heap = [(-s, int(i), int(j), 1, 1) for s, i, j in zip(scores.tolist(), left.tolist(), right.tolist())]
    heapq.heapify(heap)
    while heap:
        neg, i, j, si, sj = heapq.heappop(heap)
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        if (ri, rj) != (i, j) or (size[ri], size[rj]) != (si, sj):
            a, b = min(ri, rj), max(ri, rj)
            s = _dot(total(a), total(b)) / (size[a] * size[b])
            if s >= threshold:
                heapq.heappush(heap, (-s, a, b, size[a], size[b]))
            continue
        if not fits(ri, rj):
            continue
        keep_root, gone = min(ri, rj), max(ri, rj)
        sums[keep_root] = _add(total(keep_root), total(gone))
        sums.pop(gone, None)
        parent[gone] = keep_root
        size[keep_root] += size.pop(gone)
        (a0, a1), (b0, b1) = span[keep_root], span.pop(gone)
        lows = [x for x in (a0, b0) if x is not None]
        highs = [x for x in (a1, b1) if x is not None]
        span[keep_root] = (min(lows) if lows else None, max(highs) if highs else None)
    groups: dict[int, list[int]] = {}
    for r in rows:
        groups.setdefault(find(r), []).append(r)
    return sorted(groups.values())


def centrality(vectors: Vectors, members: Sequence[int]) -> dict[int, float]:
    """Each member's mean similarity to the others (1.0 for a lone article)."""
    if len(members) == 1:
        return {members[0]: 1.0}
    total: dict[int, float] = {}
    for m in members:
        total = _add(total, vectors.row(m))
    out = {}
    for m in members:
        row = vectors.row(m)
        out[m] = (_dot(row, total) - _dot(row, row)) / (len(members) - 1)
    return out


def mean_similarity(vectors: Vectors, a: Sequence[int], b: Sequence[int]) -> float:
    """Average-link similarity of two groups of rows."""
    sa: dict[int, float] = {}
    sb: dict[int, float] = {}
    for i in a:
        sa = _add(sa, vectors.row(i))
    for j in b:
        sb = _add(sb, vectors.row(j))
    return _dot(sa, sb) / (len(a) * len(b))
