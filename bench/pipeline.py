"""The whole `digest run` on synthetic feeds: time and peak memory per stage, per corpus size.

Usage:
    .venv/bin/python bench/pipeline.py                       # 1k, 10k and 100k articles from 500 feeds
    .venv/bin/python bench/pipeline.py --sizes 1000,10000    # fewer sizes

Each size runs in a fresh process: 500 RSS files on disk (file sources), a fresh
database, then `pipeline.run` (what `digest run` calls) with delivery to the outbox
for two subscribers. Stories are made of 1-4 articles: a wire copy republished
with another headline, or independent rewrites of one event. Peak memory is the
process's resident set size, sampled every 5 ms while each stage runs.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from pathlib import Path

NOW = datetime(2025, 1, 29, 7, 0, tzinfo=timezone.utc)
SYLLABLES = ("ka ro mi zu te va lo ne qui bar sen dor fal gri hom jex lun mor pav rik sot tum vel wix yar "
             "zen bre clo dru fen glo").split()
COMMON = ("the a of to in and said on for with that its by from at has was will new after over more than "
          "company report market officials year week plans deal people").split()
STAGES = ("ingest", "dedup", "summarize", "rank", "render", "send")


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def _sentence(rng: random.Random, names: list[str]) -> str:
    words = [rng.choice(names) if rng.random() < 0.35 else rng.choice(COMMON) for _ in range(rng.randint(12, 22))]
    words.insert(rng.randrange(len(words)), str(rng.randint(2, 9999)))
    return " ".join(words).capitalize() + "."


def make_corpus(folder: Path, articles: int, feeds: int, seed: int = 7) -> None:
    """Write `feeds` RSS files holding `articles` items in all, grouped into stories of 1-4 articles."""
    rng = random.Random(seed)
    per_feed: list[list[str]] = [[] for _ in range(feeds)]
    made = 0
    while made < articles:
        names = [_word(rng) for _ in range(12)]  # the story's own names: its vocabulary
        base = [" ".join(_sentence(rng, names) for _ in range(3)) for _ in range(5)]
        published = NOW - timedelta(minutes=rng.randint(5, 24 * 60))
        for copy in range(min(rng.choice((1, 1, 2, 3, 4)), articles - made)):
            if copy and rng.random() < 0.5:  # syndicated: the same text, another headline, a footer
                paragraphs = base + [f"This story first appeared on {_word(rng)}.com."]
            else:  # an independent rewrite of the same event
                paragraphs = [" ".join(_sentence(rng, names) for _ in range(3)) for _ in range(5)]
            title = " ".join(rng.choice(names) for _ in range(6)).title()
            feed = rng.randrange(feeds)
            body = escape("".join(f"<p>{p}</p>" for p in paragraphs))
            when = format_datetime(published + timedelta(minutes=copy * 17))
            per_feed[feed].append(
                f"<item><title>{escape(title)}</title><link>https://feed{feed}.example.com/{made}</link>"
                f"<guid isPermaLink=\"false\">a{made}</guid><pubDate>{when}</pubDate>"
                f"<description>{body}</description></item>")
            made += 1
    folder.mkdir(parents=True, exist_ok=True)
    for feed, items in enumerate(per_feed):
        (folder / f"feed{feed:03d}.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>https://feed{feed}.example.com/</link><description>synthetic</description>"
            + "".join(items) + "</channel></rss>", encoding="utf-8")


def write_config(root: Path, feeds: int) -> Path:
    lines = ['[digest]\ntimezone = "UTC"\nlookback_hours = 48\n', '[storage]\npath = "var/bench.sqlite3"\n',
             '[delivery]\nmode = "outbox"\noutbox_dir = "var/outbox"\n',
             '[[subscribers]]\nemail = "ada@example.com"\nfirst_name = "Ada"\n',
             '[[subscribers]]\nemail = "grace@example.com"\n']
    lines += [f'[[sources]]\nname = "Feed {f:03d}"\nurl = "feeds/feed{f:03d}.xml"\n' for f in range(feeds)]
    path = root / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class StageMeter:
    """Which stage runs now, its wall time, and the peak RSS seen while it ran (sampled every 5 ms)."""

    def __init__(self) -> None:
        self.current = "setup"
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self._page = 4096
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _rss_mb(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page / 1e6

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            stage = self.current
            self.peak_mb[stage] = max(self.peak_mb.get(stage, 0.0), self._rss_mb())

    def wrap(self, stage: str, func):
        def timed(*args, **kwargs):
            outer, self.current = self.current, stage
            self.peak_mb[stage] = max(self.peak_mb.get(stage, 0.0), self._rss_mb())
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - cpu
                self.peak_mb[stage] = max(self.peak_mb.get(stage, 0.0), self._rss_mb())
                self.current = outer
        return timed

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def run_one(articles: int, feeds: int) -> dict:
    """Build the corpus, then time `pipeline.run` stage by stage in this process."""
    from digest import pipeline, storage
    from digest.config import load_config

    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        root = Path(tmp)
        make_corpus(root / "feeds", articles, feeds)
        config = load_config(write_config(root, feeds))
        conn = storage.connect(config.db_path)
        meter = StageMeter()
        # Time the stages inside build() by wrapping the functions pipeline calls (a benchmark may).
        pipeline.ingest = meter.wrap("ingest", pipeline.ingest)
        pipeline.collect_stories = meter.wrap("dedup", pipeline.collect_stories)
        pipeline.summarize_story = meter.wrap("summarize", pipeline.summarize_story)
        pipeline.rank_stories = meter.wrap("rank", pipeline.rank_stories)
        pipeline.render_issue = meter.wrap("render", pipeline.render_issue)
        pipeline.build = meter.wrap("render", pipeline.build)  # writing files, recording the issue
        pipeline.send = meter.wrap("send", pipeline.send)
        started, cpu = time.perf_counter(), time.process_time()
        result = pipeline.run(config, conn, now=NOW)
        total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
        meter.stop()
        stored = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        build = result.stage("build")
        return {"articles": articles, "stored": stored, "outcome": result.outcome, "total": total,
                "total_cpu": total_cpu, "seconds": meter.seconds, "cpu": meter.cpu, "peak_mb": meter.peak_mb,
                "stories": build.counts.get("new_stories") if build else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="article counts, comma-separated")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size, JSON out
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.feeds)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        child = subprocess.run([sys.executable, __file__, "--one", str(size), "--feeds", str(args.feeds)],
                               capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(f"digest run, {args.feeds} feeds (file sources), outbox delivery to 2 subscribers; "
          "each stage: wall s / CPU s / peak RSS MB")
    print(f"{'articles':>9} {'in issue':>8} {'outcome':>8} " + " ".join(f"{s:>20}" for s in STAGES)
          + f" {'total wall/CPU':>16}")
    for r in rows:
        cells = " ".join(f"{r['seconds'].get(s, 0):6.2f}/{r['cpu'].get(s, 0):6.2f}/{r['peak_mb'].get(s, 0):5.0f}MB"
                         for s in STAGES)
        print(f"{r['articles']:>9} {r['stories'] or 0:>8} {r['outcome']:>8} {cells} "
              f"{r['total']:7.2f}/{r['total_cpu']:7.2f}s")
    for a, b in zip(rows, rows[1:]):
        print(f"{a['articles']} -> {b['articles']} articles ({b['articles'] / a['articles']:.0f}x): "
              f"{b['total'] / a['total']:.1f}x the wall time, {b['total_cpu'] / a['total_cpu']:.1f}x the CPU time")


if __name__ == "__main__":
    main()
