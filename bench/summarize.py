"""Benchmark: our summarize stage vs. sumy LexRank and sumy TextRank, on the same labeled stories, one run.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/summarize.py

For each labeled story (tests/data/summaries/, one folder per story) every
method gets the same article texts. Ours returns The Rundown + the details;
each sumy method is asked for the same number of sentences. ROUGE-1/2/L F1
(rouge-score, Porter stemming) is measured against the story's human
reference key points. sumy's English tokenizer needs NLTK data that cannot be
downloaded here, so sumy gets a tokenizer of ours (the same sentence splitter
our stage uses, and a regex word splitter). Times are CPU time (process_time),
the fastest of 5 runs after a warm-up pass, so other processes on a shared
2-core machine disturb them little; the load average is printed with them.
Speed-ups are given per story size, since LexRank's cost grows with the
square of a story's sentence count and ours linearly: the 15 short labeled
stories (1-2 kB), the five seeds as one story (29 kB), and every combination
of the seed articles. For the short stories it also prints the floor: the time
20x LexRank would leave, against what splitting and screening their sentences
alone costs. Then 1,000 stories (the labeled set repeated) are summarized by our
stage alone, to time the volume goal (CPU and wall clock).
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from rouge_score import rouge_scorer
from sumy.nlp.stemmers import Stemmer
from sumy.parsers.plaintext import PlaintextParser
from sumy.summarizers.lex_rank import LexRankSummarizer
from sumy.summarizers.text_rank import TextRankSummarizer
from sumy.utils import get_stop_words

from digest.config import SummarizeSection
from digest.models import Article, Story
from digest.summarize import summarize_story
from digest.summarize.sentences import body_sentences, split_sentences

ROOT = Path(__file__).resolve().parent.parent
LABELED = ROOT / "tests" / "data" / "summaries"
MAX_POINTS = 5
VOLUME = 1000
REPEATS = 5


class RegexTokenizer:
    """Duck-types sumy's Tokenizer without NLTK data: our sentence splitter, a regex for words."""

    language = "english"
    _word = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.-]*[A-Za-z0-9]|[A-Za-z0-9]")

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(self._word.findall(sentence))


def load_story(folder: Path) -> tuple[Story, list[str]]:
    """One labeled story: its articles as a Story, and the reference key points."""
    files = sorted(ROOT.joinpath("seeds").glob("*.txt")) if (folder / "SEEDS").exists() else \
        sorted(p for p in folder.glob("*.txt") if p.name != "reference.txt")
    articles = []
    for i, path in enumerate(files):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        source = path.stem.split("_", 1)[-1]
        articles.append(Article(id=f"{folder.name}-{i}", url=path.as_uri(), title=title.strip(), source=source,
                                text=body.strip()))
    when = datetime(2025, 1, 29, tzinfo=timezone.utc)
    story = Story(id=folder.name, headline=articles[0].title, articles=tuple(articles), first_seen=when,
                  last_seen=when)
    reference = [line for line in (folder / "reference.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    return story, reference


def ours(story: Story) -> list[str]:
    s = summarize_story(story, SummarizeSection(), max_points=MAX_POINTS, min_points=3)
    return [s.rundown, *(p.text for p in s.details)]


def sumy_method(summarizer_class):
    tokenizer = RegexTokenizer()
    summarizer = summarizer_class(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")

    def run(story: Story, count: int) -> list[str]:
        text = "\n\n".join(a.text for a in story.articles)
        parser = PlaintextParser.from_string(text, tokenizer)
        return [str(s) for s in summarizer(parser.document, count)]

    return run


def timed(run):
    """CPU seconds of the fastest of REPEATS runs (robust to other processes on a shared machine), and the output."""
    best, output = float("inf"), None
    for _ in range(REPEATS):
        start = time.process_time()
        output = run()
        best = min(best, time.process_time() - start)
    return best, output


def floor(stories: list, short: list[int], rows: dict) -> None:
    """Why 20x cannot hold on the short stories: LexRank's time there against the least any summarizer that
    screens its input must spend (splitting the sentences, dropping headings and boilerplate lines), and
    LexRank's fixed cost (a one-sentence story)."""
    budget = statistics.mean(rows["sumy LexRank"]["ms"][i] for i in short) / 20
    screen = statistics.mean(timed(lambda: [body_sentences(a.text) for a in stories[i][0].articles])[0]
                             for i in short) * 1000
    sentences = statistics.mean(sum(len(body_sentences(a.text)) for a in stories[i][0].articles) for i in short)
    story = stories[short[0]][0]
    first = replace(story.articles[0], text=split_sentences(story.articles[0].text)[0])
    one = replace(story, articles=(first,))
    lexrank = sumy_method(LexRankSummarizer)
    lexrank(one, 1)
    fixed = timed(lambda: lexrank(one, 1))[0] * 1000
    print(f"  floor: 20x LexRank leaves {budget * 1000:.0f} us a short story ({sentences:.1f} sentences); splitting "
          f"them and screening headings and boilerplate alone takes {screen * 1000:.0f} us. LexRank on a "
          f"one-sentence story: {fixed * 1000:.0f} us")


def main() -> int:
    stories = [load_story(folder) for folder in sorted(p for p in LABELED.iterdir() if p.is_dir())]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    peers = {"sumy LexRank": sumy_method(LexRankSummarizer), "sumy TextRank": sumy_method(TextRankSummarizer)}
    rows: dict[str, dict[str, list[float]]] = {}

    def record(name: str, seconds: float, output: list[str], reference: list[str]) -> None:
        scores = scorer.score("\n".join(reference), "\n".join(output))
        row = rows.setdefault(name, {"ms": [], "r1": [], "r2": [], "rl": [], "words": []})
        row["ms"].append(seconds * 1000)
        row["words"].append(sum(len(s.split()) for s in output))
        for key, metric in (("r1", "rouge1"), ("r2", "rouge2"), ("rl", "rougeL")):
            row[key].append(scores[metric].fmeasure)

    for story, _ in stories:  # warm-up: imports, regex compilation, caches of every method
        ours(story)
        for run in peers.values():
            run(story, 6)
    for story, reference in stories:
        seconds, mine = timed(lambda: ours(story))
        record("digest (ours)", seconds, mine, reference)
        count = sum(len(split_sentences(s)) for s in mine)
        for name, run in peers.items():
            seconds, output = timed(lambda: run(story, count))
            record(name, seconds, output, reference)

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{len(stories)} labeled stories ({sum(len(s.articles) for s, _ in stories)} articles), "
          f"up to {MAX_POINTS} points + The Rundown; sumy asked for as many sentences as ours gave\n")
    print(f"{'method':<15} {'ms/story':>9} {'words':>6} {'ROUGE-1':>8} {'ROUGE-2':>8} {'ROUGE-L':>8}")
    for name, row in rows.items():
        print(f"{name:<15} {statistics.mean(row['ms']):9.2f} {statistics.mean(row['words']):6.0f} "
              f"{statistics.mean(row['r1']):8.3f} {statistics.mean(row['r2']):8.3f} {statistics.mean(row['rl']):8.3f}")
    ours_ms = statistics.mean(rows["digest (ours)"]["ms"])
    for name in peers:
        print(f"speed-up vs {name}: {statistics.mean(rows[name]['ms']) / ours_ms:.1f}x")

    short = [i for i, (s, _) in enumerate(stories) if sum(len(a.text) for a in s.articles) < 5000]
    if short:
        ratios = [rows["sumy LexRank"]["ms"][i] / rows["digest (ours)"]["ms"][i] for i in short]
        print(f"\nthe {len(short)} short labeled stories (under 5 kB), ms/story: "
              + ", ".join(f"{name} {statistics.mean(rows[name]['ms'][i] for i in short):.2f}" for name in rows)
              + f"  (vs LexRank per story: {min(ratios):.1f}-{max(ratios):.1f}x, median "
              f"{statistics.median(ratios):.1f}x)")
    if short:
        floor(stories, short, rows)
    print("\nper story, by size (ms; speed-up of ours):")
    for story, _ in sorted(stories, key=lambda item: -sum(len(a.text) for a in item[0].articles))[:3]:
        size = sum(len(a.text) for a in story.articles)
        ms = {name: statistics.mean(rows[name]["ms"][i]
                                    for i, (s, _) in enumerate(stories) if s is story) for name in rows}
        print(f"  {story.id:<24} {len(story.articles)} articles {size / 1000:5.1f} kB: "
              + ", ".join(f"{name} {ms[name]:.1f}" for name in rows)
              + f"  ({ms['sumy LexRank'] / ms['digest (ours)']:.0f}x vs LexRank)")

    # Full-length articles: every combination of the five seed articles (real pages of 600-1,300 words) as a story.
    seeds = stories[0][0]
    combos = [replace(seeds, id=f"seeds-{'-'.join(map(str, idx))}", articles=tuple(seeds.articles[i] for i in idx))
              for n in range(1, len(seeds.articles) + 1) for idx in itertools.combinations(range(len(seeds.articles)), n)]
    sized: dict[str, list[float]] = {"digest (ours)": [], **{name: [] for name in peers}}
    for story in combos:
        sized["digest (ours)"].append(timed(lambda: ours(story))[0])
        for name, run in peers.items():
            sized[name].append(timed(lambda: run(story, 6))[0])
    mean = {name: statistics.mean(v) * 1000 for name, v in sized.items()}
    print(f"\nfull-length stories: the {len(combos)} combinations of the 5 seed articles (1-5 articles, "
          f"{min(sum(len(a.text) for a in c.articles) for c in combos) / 1000:.0f}-"
          f"{max(sum(len(a.text) for a in c.articles) for c in combos) / 1000:.0f} kB), ms/story:")
    print("  " + ", ".join(f"{name} {ms:.1f}" for name, ms in mean.items())
          + f"  ({mean['sumy LexRank'] / mean['digest (ours)']:.0f}x vs LexRank, "
          f"{mean['sumy TextRank'] / mean['digest (ours)']:.0f}x vs TextRank)")
    for n in range(1, len(seeds.articles) + 1):  # the speed-up grows with the story's size
        idx = [i for i, story in enumerate(combos) if len(story.articles) == n]
        by_n = {name: statistics.mean(v[i] for i in idx) * 1000 for name, v in sized.items()}
        print(f"    {n} article{'s' if n > 1 else ' '} ({len(idx):2d} stories): "
              + ", ".join(f"{name} {ms:.1f}" for name, ms in by_n.items())
              + f"  ({by_n['sumy LexRank'] / by_n['digest (ours)']:.0f}x vs LexRank)")

    volume = [stories[i % len(stories)][0] for i in range(VOLUME)]
    start, cpu = time.perf_counter(), time.process_time()
    for story in volume:
        ours(story)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{VOLUME} stories ({sum(len(s.articles) for s in volume)} articles) summarized by ours in {elapsed:.1f} s "
          f"({cpu:.1f} s CPU)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
