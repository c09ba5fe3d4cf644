"""Benchmark of the dedup stage: time, peak memory and quality on synthetic corpora, vs naive all-pairs.

Synthetic corpora of 1k, 10k and 100k articles are generated with a known
truth: stories (articles sharing a few names, figures and topic words, within
36 hours), syndicated near-copies (byline, footer, sometimes an extra
paragraph and a new headline) and exact re-fetches under tracking URLs. Each
size runs in its own subprocess so its peak RSS is its own; 1k and 10k report
the best of 3 runs, 100k a single run. At 10k the same
corpus is also grouped naively: scikit-learn TF-IDF, all-pairs cosine,
connected components above a threshold. A last block reports quality on the
hand-labeled corpus in tests/data/dedup/ (corpus.jsonl, on which the default
threshold was chosen, and holdout.jsonl, written after it was fixed).

    .venv/bin/python bench/dedup.py                 # 1k, 10k, 100k + naive at 10k + labeled corpus
    .venv/bin/python bench/dedup.py --sizes 1000    # a quick run
    .venv/bin/python bench/dedup.py --sweep 0.15,0.2,0.25,0.3,0.35   # story_threshold vs quality
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.config import DedupSection  # noqa: E402
from digest.dedup import group_stories  # noqa: E402
from digest.dedup.evaluate import bcubed, load_labeled, pairwise, predicted_labels  # noqa: E402
from digest.models import Article  # noqa: E402

SYLLABLES = [a + b for a in "bcdfghjklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ai", "ou", "ar", "en", "il")]
STORY_SIZES = [1, 1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 12]  # drawn uniformly: mean 4
NEAR_COPY_SHARE = 0.15  # of articles: a syndicated copy of another article of its story
EXACT_COPY_SHARE = 0.03  # of articles: the same article again under a tracking URL
STORY_WORD_SHARE = 0.22  # of an article's words: its story's names, figures and topic words
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
REPEATS = 3  # runs at 1k and 10k (the best is reported); 100k runs once


def _words(rng: np.random.Generator, n: int, syllables: int, capital: bool = False) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        parts = rng.choice(SYLLABLES, size=(n, syllables + 1))
        lengths = rng.integers(syllables, syllables + 2, size=n)
        for row, k in zip(parts.tolist(), lengths.tolist()):
            w = "".join(row[:k])
            if w not in seen and len(out) < n:
                seen.add(w)
                out.append(w.capitalize() if capital else w)
    return out


class _Writer:
    """Random prose: Zipf-distributed filler words with a share of the story's own terms."""

    def __init__(self, rng: np.random.Generator, vocab: list[str]) -> None:
        self.rng = rng
        self.vocab = np.asarray(vocab, dtype=object)
        weights = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
        self.cdf = np.cumsum(weights / weights.sum())

    def filler(self, n: int) -> list[str]:
        return self.vocab[np.searchsorted(self.cdf, self.rng.random(n))].tolist()

    def paragraph(self, pool: list[str], n: int) -> str:
        words = self.filler(n)
        mask = self.rng.random(n) < STORY_WORD_SHARE
        picks = self.rng.integers(len(pool), size=n)
        words = [pool[p] if m else w for w, m, p in zip(words, mask.tolist(), picks.tolist())]
        return " ".join(words).capitalize() + "."


def make_corpus(n: int, seed: int = 7) -> tuple[list[Article], dict[str, str], int]:
    """`n` synthetic articles, their gold story labels and how many are copies (exact or near) of another."""
    rng = np.random.default_rng(seed)
    vocab = _words(rng, 20_000, 2)
    names = _words(rng, max(2_000, n // 2), 2, capital=True)
    writer = _Writer(rng, vocab)
    days = max(3, n // 5_000)  # about 5k articles a day
    articles: list[Article] = []
    gold: dict[str, str] = {}
    copies = 0
    story = 0
    while len(articles) < n:
        story += 1
        label = f"story{story}"
        pool = ([names[i] for i in sorted(set(rng.integers(len(names), size=6).tolist()))]
                + [vocab[i] for i in sorted(set(rng.integers(1500, 12000, size=12).tolist()))]
                + [f"{int(rng.integers(2, 999))}{rng.choice(['', '%', ' million', ' billion'])}" for _ in range(4)])
        t0 = START + timedelta(hours=float(rng.uniform(0, 24 * days)))
        own: list[Article] = []
        for _ in range(int(rng.choice(STORY_SIZES))):
            if len(articles) >= n:
                break
            aid = f"n{len(articles):06d}"
            when = t0 + timedelta(hours=float(rng.uniform(0, 36)))
            source = f"Outlet {int(rng.integers(300))}"
            title = " ".join(pool[i] for i in rng.integers(len(pool), size=8).tolist()).capitalize()
            if own and rng.random() < NEAR_COPY_SHARE / 0.75:
                src = own[int(rng.integers(len(own)))]
                extra = " ".join(writer.filler(30)) if rng.random() < 0.5 else ""
                byline = " ".join(names[i] for i in rng.integers(len(names), size=2).tolist())
                text = (f"By {byline}, staff writer\n\n{src.text}\n\n{extra}\n\n"
                        f"This story first appeared on {src.source} and is republished with permission.")
                art = Article(id=aid, url=f"https://{source.replace(' ', '').lower()}.example/{aid}", title=title,
                              source=source, text=text, published=when)
                copies += 1
            elif own and rng.random() < EXACT_COPY_SHARE / 0.75:
                src = own[int(rng.integers(len(own)))]
                art = Article(id=aid, url=src.url + "?utm_source=rss&utm_medium=feed", title=src.title,
                              source=src.source, text=src.text, published=src.published)
                copies += 1
            else:
                text = "\n\n".join(writer.paragraph(pool, int(rng.integers(30, 50)))
                                    for _ in range(int(rng.integers(3, 6))))
                art = Article(id=aid, url=f"https://{source.replace(' ', '').lower()}.example/{aid}", title=title,
                              source=source, text=text, published=when)
            own.append(art)
            articles.append(art)
            gold[aid] = label
    order = rng.permutation(len(articles))
    return [articles[i] for i in order], gold, copies


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_ours(n: int) -> dict:
    articles, gold, true_copies = make_corpus(n)
    before = _rss_mb()
    seconds = cpu = float("inf")
    for _ in range(REPEATS if n <= 10_000 else 1):  # best of a few where a run is short: noise is relative
        t, c = time.perf_counter(), time.process_time()
        stories = group_stories(articles, DedupSection())
        seconds, cpu = min(seconds, time.perf_counter() - t), min(cpu, time.process_time() - c)
    pred = predicted_labels(stories)
    pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
    copies = sum(len(c) for s in stories for c in s.aliases.values())
    return dict(impl="digest (MinHash LSH + blocked TF-IDF)", n=n, seconds=seconds, cpu=cpu,
                true_copies=true_copies, rss_before_mb=before,
                rss_peak_mb=_rss_mb(), stories=len(stories), gold_stories=len(set(gold.values())),
                copies=copies, p=pw.precision, r=pw.recall, f1=pw.f1, b3=b3.f1)


def naive_groups(articles: list[Article], threshold: float) -> dict[str, str]:
    """All-pairs TF-IDF cosine (scikit-learn), connected components above `threshold`: id -> group."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(
        [f"{a.title}\n\n{a.text}" for a in articles])
    sims = (x @ x.T).toarray()  # every pair: n^2 floats
    _, labels = connected_components(sims >= threshold, directed=False)
    return {a.id: str(labels[i]) for i, a in enumerate(articles)}


def run_naive(n: int, threshold: float) -> dict:
    articles, gold, _ = make_corpus(n)
    before = _rss_mb()
    t, c = time.perf_counter(), time.process_time()
    pred = naive_groups(articles, threshold)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
    return dict(impl=f"naive all-pairs TF-IDF cosine >= {threshold}", n=n, seconds=seconds, cpu=cpu,
                rss_before_mb=before, rss_peak_mb=_rss_mb(), stories=len(set(pred.values())),
                gold_stories=len(set(gold.values())), copies=0, p=pw.precision, r=pw.recall, f1=pw.f1, b3=b3.f1)


LABELED = ROOT / "tests" / "data" / "dedup"


def load_corpus(name: str = "corpus") -> tuple[list[Article], dict[str, str]]:
    """tests/data/dedup/<name>.jsonl: articles and gold story labels."""
    return load_labeled(LABELED / f"{name}.jsonl")


def run_labeled_naive(threshold: float) -> dict:
    articles, gold = load_corpus()
    t, c = time.perf_counter(), time.process_time()
    pred = naive_groups(articles, threshold)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
    return dict(impl=f"naive cosine >= {threshold} on the labeled corpus", n=len(articles), seconds=seconds,
                cpu=cpu, rss_before_mb=0, rss_peak_mb=_rss_mb(), stories=len(set(pred.values())),
                gold_stories=len(set(gold.values())), copies=0, p=pw.precision, r=pw.recall, f1=pw.f1, b3=b3.f1,
                b3_p=b3.precision, b3_r=b3.recall)


def run_labeled(name: str) -> dict:
    articles, gold = load_corpus(name)
    t, c = time.perf_counter(), time.process_time()
    stories = group_stories(articles, DedupSection())
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    pred = predicted_labels(stories)
    pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
    return dict(impl=f"digest on tests/data/dedup/{name}.jsonl", n=len(articles), seconds=seconds, cpu=cpu,
                rss_before_mb=0, rss_peak_mb=_rss_mb(), stories=len(stories), gold_stories=len(set(gold.values())),
                copies=sum(len(c) for s in stories for c in s.aliases.values()),
                p=pw.precision, r=pw.recall, f1=pw.f1, b3=b3.f1, b3_p=b3.precision, b3_r=b3.recall)


def sweep(thresholds: list[float]) -> None:
    """Quality on the labeled corpus for several [dedup].story_threshold values."""
    articles, gold = load_corpus()
    print(f"{'story_threshold':>15} {'stories':>8} {'pair P':>7} {'pair R':>7} {'pair F1':>8} {'B3 F1':>6}")
    for t in thresholds:
        stories = group_stories(articles, DedupSection(story_threshold=t))
        pred = predicted_labels(stories)
        pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
        print(f"{t:>15.2f} {len(stories):>8} {pw.precision:>7.3f} {pw.recall:>7.3f} {pw.f1:>8.3f} {b3.f1:>6.3f}")


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--naive-size", type=int, default=10_000)
    parser.add_argument("--naive-threshold", type=float, default=0.3)
    parser.add_argument("--sweep", help="only print labeled-corpus quality for these story thresholds, e.g. 0.2,0.25")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--labeled", help=argparse.SUPPRESS)
    parser.add_argument("--labeled-naive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sweep:
        sweep([float(x) for x in args.sweep.split(",")])
        return
    if args.one:
        print(json.dumps(run_ours(args.one)))
        return
    if args.naive:
        print(json.dumps(run_naive(args.naive, args.naive_threshold)))
        return
    if args.labeled:
        print(json.dumps(run_labeled(args.labeled)))
        return
    if args.labeled_naive:
        print(json.dumps(run_labeled_naive(args.naive_threshold)))
        return
    rows = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        rows.append(_child(["--one", str(n)]))
        if n == args.naive_size:
            rows.append(_child(["--naive", str(n), "--naive-threshold", str(args.naive_threshold)]))
    rows.append(_child(["--labeled", "holdout"]))
    holdout = rows[-1]
    rows.append(_child(["--labeled", "corpus"]))
    labeled = rows[-1]
    rows.append(_child(["--labeled-naive", "--naive-threshold", str(args.naive_threshold)]))
    columns = [("implementation", 44, "impl", ""), ("articles", 8, "n", ""), ("wall s", 8, "seconds", ".2f"),
               ("CPU s", 7, "cpu", ".2f"), ("RSS before MB", 13, "rss_before_mb", ".0f"),
               ("peak RSS MB", 11, "rss_peak_mb", ".0f"), ("stories", 8, "stories", ""),
               ("gold", 6, "gold_stories", ""),
               ("copies", 6, "copies", ""), ("pair P", 6, "p", ".3f"), ("pair R", 6, "r", ".3f"),
               ("pair F1", 7, "f1", ".3f"), ("B3 F1", 6, "b3", ".3f")]
    head = " ".join(f"{name:{'<' if k == 0 else '>'}{width}}" for k, (name, width, _, _) in enumerate(columns))
    print(head)
    print("-" * len(head))
    for r in rows:
        cells = (f"{r[key]:{'<' if k == 0 else '>'}{width}{fmt}}" for k, (_, width, key, fmt) in enumerate(columns))
        print(" ".join(cells))
    ours = {r["n"]: (r["seconds"], r["cpu"]) for r in rows if r["impl"].startswith("digest (")}
    if 10_000 in ours and 100_000 in ours:
        print(f"\n10k -> 100k: {ours[100_000][0] / ours[10_000][0]:.1f}x the wall time, "
              f"{ours[100_000][1] / ours[10_000][1]:.1f}x the CPU time, for 10x the articles")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work shares the 2 cores)")
    for r in rows:
        if "true_copies" in r:
            print(f"{r['n']} articles: {r['copies']} of {r['true_copies']} generated copies collapsed")
    for name, r in (("corpus, digest", labeled), ("corpus, naive", rows[-1]), ("holdout, digest", holdout)):
        print(f"labeled {name}: pairwise P {r['p']:.3f} R {r['r']:.3f} F1 {r['f1']:.3f}; "
              f"B-cubed P {r['b3_p']:.3f} R {r['b3_r']:.3f} F1 {r['b3']:.3f}")


if __name__ == "__main__":
    main()
