"""Quality of a grouping against gold labels: pairwise and B-cubed precision, recall and F1.

Used by the tests (floors on the labeled corpus in tests/data/dedup/) and by
bench/dedup.py. Both take {item: cluster label} maps over the same items.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..models import Article, Story


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def predicted_labels(stories: Sequence[Story]) -> dict[str, str]:
    """Article id (kept or collapsed copy) -> the id of the story it ended up in."""
    out = {}
    for s in stories:
        for a in s.articles:
            out[a.id] = s.id
        for copies in s.aliases.values():
            for cid in copies:
                out[cid] = s.id
    return out


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(gold: Mapping[str, str], predicted: Mapping[str, str]) -> Scores:
    """Precision and recall over all pairs of items put in one cluster (counted, not enumerated)."""
    both = Counter((gold[i], predicted[i]) for i in gold)
    tp = sum(_pairs(n) for n in both.values())
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted[i] for i in gold).values())
    gold_pairs = sum(_pairs(n) for n in Counter(gold.values()).values())
    p = tp / predicted_pairs if predicted_pairs else 1.0
    r = tp / gold_pairs if gold_pairs else 1.0
    return Scores(p, r, _f1(p, r))


def bcubed(gold: Mapping[str, str], predicted: Mapping[str, str]) -> Scores:
    """B-cubed: per item, the share of its predicted cluster that is right, and of its gold cluster found."""
    pair_counts = Counter((gold[i], predicted[i]) for i in gold)
    gold_sizes = Counter(gold[i] for i in gold)
    pred_sizes = Counter(predicted[i] for i in gold)
    p = sum(pair_counts[(gold[i], predicted[i])] / pred_sizes[predicted[i]] for i in gold) / len(gold)
    r = sum(pair_counts[(gold[i], predicted[i])] / gold_sizes[gold[i]] for i in gold) / len(gold)
    return Scores(p, r, _f1(p, r))


def load_labeled(path: Path) -> tuple[list[Article], dict[str, str]]:
    """A labeled corpus (JSON lines of id, url, title, source, text, guid, published, story):
    its articles and their gold story labels."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    articles = [Article(id=r["id"], url=r["url"], title=r["title"], source=r["source"], text=r["text"],
                        guid=r.get("guid"), published=datetime.fromisoformat(r["published"])) for r in rows]
    return articles, {r["id"]: r["story"] for r in rows}
