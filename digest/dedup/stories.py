"""Independent articles about one event -> one cluster.

Each article becomes one sparse vector made of three L2-normalized TF-IDF
blocks, weighted so that a dot product is a similarity in [0, 1]:

* body: content words of the title and the first BODY_WORDS words (sublinear tf),
* title: content words of the headline,
* facts: names and figures ("Nvidia", "H800", "5.6m", "17%").

IDF is computed on the batch, so a word every chip story uses ("export")
weighs little in a day full of chip stories while the names and numbers
that tell two events apart weigh most; terms only one article has are
dropped (they cannot link two articles, only dilute long ones). Up to
EXACT_PAIRS_MAX articles every pair sharing a term is scored; above, only
pairs sharing two of their top-weighted terms (terms in more than
BLOCK_MAX_DF articles are no event's signature and are skipped there), so
the cost grows about linearly. Clusters form by average linkage inside each
connected component of the pairs above the threshold: two clusters merge
only when the mean similarity of all their cross pairs clears it and no two
of their articles were published further apart than the window, which keeps
one off-topic pair from chaining two events together.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components

from .text import content_terms, facts, normalized_terms

BODY_WORDS = 600  # words of text read per article: the event is told near the top
BODY_CHARS = 4_000  # about as much text, for the names and figures
WEIGHTS = {"b": 0.6, "t": 0.1, "f": 0.3}  # body, title, facts; they sum to 1
EXACT_PAIRS_MAX = 2000  # up to this many articles every pair sharing a term is scored
BLOCK_TERMS = 12  # above it: top-weighted terms per article used to find candidates
BLOCK_MAX_DF = 256  # a term in more articles than this is not used to find candidates
BLOCK_MIN_SHARED = 2  # candidates share at least this many of those terms
BLOCK_CHUNK_ROWS = 4096
DENSE_COMPONENT_MAX = 2000  # larger components are clustered over their candidate edges only
FAR = 1e12  # the distance of two articles outside the time window
PAIR_CHUNK = 20_000  # candidate pairs scored at once (bounds memory)


@dataclass(frozen=True)
class Doc:
    """What the vectorizer reads of one article (`normalized`: its text through `normalize_text`, if known)."""

    title: str
    text: str
    normalized: str | None = None


@dataclass
class Vectors:
    """One weighted TF-IDF row per document; `matrix[i] @ matrix[j]` is their similarity."""

    matrix: sparse.csr_matrix
    df: np.ndarray  # documents per column

    def row(self, i: int) -> dict[int, float]:
        start, end = self.matrix.indptr[i], self.matrix.indptr[i + 1]
        return dict(zip(self.matrix.indices[start:end].tolist(), self.matrix.data[start:end].tolist()))


BLOCKS = ("b", "t", "f")


def _features(doc: Doc) -> tuple[Counter, Counter, Counter]:
    title = content_terms(doc.title)
    body = normalized_terms(doc.normalized, BODY_WORDS) if doc.normalized is not None else \
        content_terms(doc.text, limit=BODY_WORDS)
    return (
        Counter(title + body),
        Counter(title),
        Counter(facts(f"{doc.title}.\n\n{doc.text[:BODY_CHARS]}")),
    )


def vectorize(docs: Sequence[Doc]) -> Vectors:
    """Weighted, block-normalized TF-IDF rows for `docs`, IDF fitted on `docs` themselves.

    Terms only one document has are dropped: they cannot link two articles and
    would only dilute the norm of the long ones.
    """
    vocabs: list[dict[str, int]] = [{} for _ in BLOCKS]
    cols = [array("q") for _ in BLOCKS]  # compact: no int object per entry on big batches
    counts = [array("q") for _ in BLOCKS]
    lengths = np.zeros((len(BLOCKS), len(docs)), dtype=np.int64)
    for d, doc in enumerate(docs):
        for b, counter in enumerate(_features(doc)):
            vocab = vocabs[b]
            cols[b].extend([vocab.setdefault(term, len(vocab)) for term in counter])
            counts[b].extend(counter.values())
            lengths[b, d] = len(counter)
    offsets = np.cumsum([0] + [len(v) for v in vocabs])
    block_cols = [(np.frombuffer(cols[b], dtype=np.int64) + offsets[b]).astype(np.int32) for b in range(len(BLOCKS))]
    del cols
    df = np.zeros(int(offsets[-1]), dtype=np.int64)
    for c in block_cols:
        df += np.bincount(c, minlength=len(df))
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    parts_cols, parts_vals, parts_rows = [], [], []
    for b in range(len(BLOCKS)):
        c = block_cols[b]
        row_of = np.repeat(np.arange(len(docs), dtype=np.int32), lengths[b])
        keep = df[c] >= 2
        c, row_of = c[keep], row_of[keep]
        vals = (1.0 + np.log(np.frombuffer(counts[b], dtype=np.int64)[keep])) * idf[c]
        norms = np.sqrt(np.bincount(row_of, weights=vals * vals, minlength=len(docs)))
        vals *= np.sqrt(WEIGHTS[BLOCKS[b]]) / np.where(norms > 0, norms, 1.0)[row_of]
        parts_cols.append(c)
        parts_vals.append(vals)
        parts_rows.append(row_of)
        block_cols[b] = None  # type: ignore[call-overload]  # free as we go
    rows = np.concatenate(parts_rows)
    order = np.argsort(rows, kind="stable")  # CSR directly: no COO copy of a big batch
    indices = np.concatenate(parts_cols)[order]
    data = np.concatenate(parts_vals)[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(docs)))]).astype(np.int64)
    del parts_cols, parts_vals, parts_rows, rows, order
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(docs), int(offsets[-1])))
    matrix.sort_indices()
    return Vectors(matrix, df)


def scored_pairs(vectors: Vectors, rows: np.ndarray,
                 exact_limit: int = EXACT_PAIRS_MAX) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of `rows` worth scoring, with their similarity.

    Up to `exact_limit` rows, every pair sharing a term (a daily batch: exact
    and cheap, one sparse product). Above, pairs sharing at least
    BLOCK_MIN_SHARED of their top-weighted, not-too-common terms, so the cost
    stays about linear.
    """
    m = vectors.matrix[rows]
    if len(rows) <= exact_limit:
        product = sparse.triu(m @ m.T, k=1).tocoo()
        return rows[product.row.astype(np.int64)], rows[product.col.astype(np.int64)], product.data
    usable = vectors.df <= BLOCK_MAX_DF  # every stored term has df >= 2 already
    b_rows, b_cols = [], []
    for r in range(m.shape[0]):
        start, end = m.indptr[r], m.indptr[r + 1]
        cols, vals = m.indices[start:end], m.data[start:end]
        keep = usable[cols]
        cols, vals = cols[keep], vals[keep]
        if len(cols) > BLOCK_TERMS:
            cols = cols[np.lexsort((cols, -vals))[:BLOCK_TERMS]]
        b_rows.append(np.full(len(cols), r, dtype=np.int64))
        b_cols.append(cols)
    r_all, c_all = np.concatenate(b_rows), np.concatenate(b_cols)
    block = sparse.csr_matrix((np.ones(len(r_all), dtype=np.int32), (r_all, c_all)), shape=m.shape)
    block_t = block.T.tocsr()
    lefts, rights = [], []
    for s in range(0, m.shape[0], BLOCK_CHUNK_ROWS):  # chunks bound the memory of the shared-term counts
        shared = (block[s:s + BLOCK_CHUNK_ROWS] @ block_t).tocoo()
        i = shared.row.astype(np.int64) + s
        keep = (shared.col > i) & (shared.data >= BLOCK_MIN_SHARED)
        lefts.append(i[keep])
        rights.append(shared.col[keep].astype(np.int64))
    left, right = rows[np.concatenate(lefts)], rows[np.concatenate(rights)]
    return left, right, pair_scores(vectors, left, right)


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
            window_seconds: float, dense_limit: int = DENSE_COMPONENT_MAX,
            exact_limit: int = EXACT_PAIRS_MAX) -> list[list[int]]:
    """Average-linkage clusters of `rows` (indices into `vectors`); `times` are epoch seconds per row.

    Candidate pairs above the threshold split the rows into connected
    components; each component is clustered on its own, exactly (scipy's
    average linkage on its dense similarity matrix) or, past `dense_limit`
    rows, by a lazy-heap agglomeration over its candidate edges only.
    """
    rows_arr = np.asarray(rows, dtype=np.int64)
    if len(rows_arr) == 0:
        return []
    position = {int(r): k for k, r in enumerate(rows_arr.tolist())}
    left, right, scores = scored_pairs(vectors, rows_arr, exact_limit)
    keep = scores >= threshold
    left, right, scores = left[keep], right[keep], scores[keep]
    pl = np.asarray([position[int(x)] for x in left.tolist()], dtype=np.int64)
    pr = np.asarray([position[int(x)] for x in right.tolist()], dtype=np.int64)
    n = len(rows_arr)
    graph = sparse.coo_matrix((np.ones(len(pl)), (pl, pr)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    t = np.asarray([np.nan if x is None else x for x in times], dtype=np.float64)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups: list[list[int]] = []
    dense: list[np.ndarray] = []
    edge_label = labels[pl] if len(pl) else np.zeros(0, dtype=np.int64)
    for component in np.split(order, bounds):
        if len(component) == 1:
            groups.append([int(rows_arr[component[0]])])
        elif len(component) <= dense_limit:
            dense.append(component)
        else:
            mine = edge_label == labels[component[0]]
            groups += _average_linkage_sparse(vectors, rows_arr[component].tolist(), t[component].tolist(),
                                              left[mine], right[mine], scores[mine], threshold, window_seconds)
    groups += _average_linkage_dense(vectors, rows_arr, dense, t, threshold, window_seconds)
    return sorted(sorted(g) for g in groups)


def _within_pairs(components: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair inside each component, in scipy's condensed order, and where each component's pairs start."""
    lefts, rights, starts = [], [], [0]
    for comp in components:
        iu, ju = np.triu_indices(len(comp), 1)
        lefts.append(comp[iu])
        rights.append(comp[ju])
        starts.append(starts[-1] + len(iu))
    if not lefts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.asarray(starts)
    return np.concatenate(lefts), np.concatenate(rights), np.asarray(starts)


def _average_linkage_dense(vectors: Vectors, rows: np.ndarray, components: list[np.ndarray], t: np.ndarray,
                           threshold: float, window_seconds: float) -> list[list[int]]:
    """Exact average linkage inside each component; all their pairs are scored in one vectorized pass."""
    left, right, starts = _within_pairs(components)
    distance = 1.0 - pair_scores(vectors, rows[left], rows[right])
    distance[np.abs(t[left] - t[right]) > window_seconds] = FAR  # NaN (undated) is never outside the window
    np.clip(distance, 0.0, None, out=distance)
    out: list[list[int]] = []
    for k, comp in enumerate(components):
        condensed = distance[starts[k]:starts[k + 1]]
        members = rows[comp].tolist()
        if len(comp) == 2:
            out += [members] if condensed[0] <= 1.0 - threshold else [[m] for m in members]
            continue
        labels = fcluster(linkage(condensed, method="average"), t=1.0 - threshold, criterion="distance")
        found: dict[int, list[int]] = {}
        for row, label in zip(members, labels.tolist()):
            found.setdefault(label, []).append(row)
        out += found.values()
    return out


def _average_linkage_sparse(vectors: Vectors, rows: list[int], times: list[float], left: np.ndarray,
                            right: np.ndarray, scores: np.ndarray, threshold: float,
                            window_seconds: float) -> list[list[int]]:
    """Average linkage over candidate edges only, for components too big for a dense matrix."""
    parent = {r: r for r in rows}
    size = {r: 1 for r in rows}
    span = {r: (t, t) for r, t in zip(rows, times)}
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
        known = [x for x in (*span[ra], *span[rb]) if not math.isnan(x)]
        return not known or max(known) - min(known) <= window_seconds

    # Heap entries carry the cluster sizes they were scored with; a stale one is rescored.
    heap = [(-s, int(i), int(j), 1, 1) for s, i, j in zip(scores.tolist(), left.tolist(), right.tolist())]
    heapq.heapify(heap)
    while heap:
        _, i, j, si, sj = heapq.heappop(heap)
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
        merged = [x for x in (*span[keep_root], *span.pop(gone)) if not math.isnan(x)]
        span[keep_root] = (min(merged), max(merged)) if merged else (math.nan, math.nan)
    out: dict[int, list[int]] = {}
    for r in rows:
        out.setdefault(find(r), []).append(r)
    return list(out.values())


def centrality(vectors: Vectors, groups: Sequence[Sequence[int]]) -> dict[int, float]:
    """Each row's mean similarity to the other rows of its group (1.0 alone), for all groups at once."""
    comps = [np.asarray(g, dtype=np.int64) for g in groups if len(g) > 1]
    left, right, _ = _within_pairs(comps)
    sims = pair_scores(vectors, left, right)
    total = np.bincount(left, weights=sims, minlength=vectors.matrix.shape[0])
    total += np.bincount(right, weights=sims, minlength=vectors.matrix.shape[0])
    out = {}
    for g in groups:
        for row in g:
            out[row] = 1.0 if len(g) == 1 else float(total[row]) / (len(g) - 1)
    return out


def mean_similarities(vectors: Vectors, groups: Sequence[Sequence[int]],
                      others: Sequence[Sequence[int]]) -> dict[tuple[int, int], float]:
    """Average-link similarity of every (group, other) pair that shares a term, keyed by their indices."""
    if not groups or not others:
        return {}
    sums_a = _indicator(groups, vectors.matrix.shape[0]) @ vectors.matrix
    sums_b = _indicator(others, vectors.matrix.shape[0]) @ vectors.matrix
    product = (sums_a @ sums_b.T).tocoo()
    sizes_a = np.asarray([len(g) for g in groups], dtype=np.float64)
    sizes_b = np.asarray([len(g) for g in others], dtype=np.float64)
    values = product.data / (sizes_a[product.row] * sizes_b[product.col])
    return {(int(i), int(j)): float(v) for i, j, v in zip(product.row, product.col, values)}


def _indicator(groups: Sequence[Sequence[int]], width: int) -> sparse.csr_matrix:
    rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    cols = np.asarray([r for g in groups for r in g], dtype=np.int64)
    return sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(groups), width))
