"""Benchmark: `digest ingest` against a sequential feedparser.parse loop (the rss2email way).

200 RSS feeds of 50 items each are served on 127.0.0.1 by a threaded server
in another process, every response delayed by 50 ms (a distant server).
Ours: pipeline.ingest on a config listing the 200 URLs (concurrent fetch,
parse, sanitize, store into a temporary SQLite file). Peer: one
`feedparser.parse(url)` after the other over the same URLs. One run each.

    .venv/bin/python bench/ingest.py [--feeds 200] [--items 50] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import os
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
# httpx loads its transport (httpcore, which imports trio when installed) on the first Client, so that module
# loading would land inside our timed run; like every other import on both sides, it is done before timing.
import httpcore  # noqa: F401

from digest import pipeline, storage
from digest.config import parse_config
from digest.storage import articles as article_store


def make_feed(feed: int, items: int) -> bytes:
    start = datetime(2025, 1, 29, 12, 0, tzinfo=timezone.utc)
    entries = []
    for i in range(items):
        when = format_datetime(start - timedelta(minutes=feed * items + i), usegmt=True)
        entries.append(
            f"<item><title>Feed {feed} story {i}: chipmakers &amp; the AI race</title>"
            f"<link>https://news{feed}.example.com/2025/01/story-{i}?utm_source=rss&amp;utm_medium=feed</link>"
            f"<guid isPermaLink=\"false\">feed-{feed}-item-{i}</guid><pubDate>{when}</pubDate>"
            f"<author>desk@news{feed}.example.com (News Desk)</author>"
            f"<description><![CDATA[<p>Story {i} of feed {feed}: shares of chipmakers moved on Monday after a "
            f"cheaper AI model appeared, and analysts <a href=\"/analysis/{i}\">weighed in</a> on what it means.</p>"
            f"<p>A second paragraph adds <b>context</b> about export controls, data centres and the cost of "
            f"training, about forty words in all, like a real feed teaser.</p>]]></description></item>"
        )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>https://news{feed}.example.com/</link><description>Bench feed {feed}</description>"
            f"{''.join(entries)}</channel></rss>").encode()


def serve(feeds: int, items: int, delay: float, ports: multiprocessing.Queue) -> None:
    bodies = {f"/feed/{n}.xml": make_feed(n, items) for n in range(feeds)}
    zipped = {path: gzip.compress(body) for path, body in bodies.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a keep-alive client (ours) waits for a delayed
        # ACK (40 ms on Linux) before the body on every request after the first, which real servers don't do.
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            time.sleep(delay)
            body = bodies.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body = zipped[self.path]
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.request_queue_size = 256
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    ports.put(httpd.server_address[1])
    httpd.serve_forever()


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (our parser workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_ours(urls: list[str], folder: Path) -> tuple[float, int, int, float]:
    config = parse_config(
        {"sources": [{"name": f"feed {i}", "url": u} for i, u in enumerate(urls)],
         "storage": {"path": str(folder / "bench.sqlite3")}},
        base_dir=folder,
    )
    conn = storage.connect(config.db_path)
    started, cpu = time.perf_counter(), cpu_seconds()
    report = pipeline.ingest(config, conn)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    stored = article_store.count_articles(conn)
    conn.close()
    if report.failed:
        raise SystemExit(f"ours: {len(report.failed)} feeds failed, e.g. {report.failed[0].error}")
    return elapsed, sum(len(r.articles) for r in report.results), stored, cpu


def run_peer(urls: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    entries = 0
    for url in urls:
        entries += len(feedparser.parse(url).entries)
    return time.perf_counter() - started, entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()

    load = os.getloadavg()[0]
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.feeds, args.items, args.delay_ms / 1000, ports),
                                     daemon=True)
    server.start()
    port = ports.get(timeout=30)
    urls = [f"http://127.0.0.1:{port}/feed/{n}.xml" for n in range(args.feeds)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours, our_items, stored, our_cpu = run_ours(urls, Path(tmp))
        peer, peer_items = run_peer(urls)
    finally:
        server.terminate()
        server.join()

    print(f"{args.feeds} feeds x {args.items} items, {args.delay_ms:g} ms per response, 127.0.0.1; "
          f"{os.cpu_count()} cores, load average {load:.1f} before the run\n")
    print(f"{'run':<44} {'wall s':>8} {'items':>7} {'items/s':>9}")
    print(f"{'digest ingest (fetch, parse, sanitize, store)':<44} {ours:>8.2f} {our_items:>7} {our_items / ours:>9.0f}")
    print(f"{'sequential feedparser.parse(url) loop':<44} {peer:>8.2f} {peer_items:>7} {peer_items / peer:>9.0f}")
    print(f"\nratio: ours is {peer / ours:.1f}x faster ({stored} articles stored in SQLite)")
    print(f"ours used {our_cpu:.2f} CPU seconds (parser processes included) for {ours:.2f} s of wall time")


if __name__ == "__main__":
    main()
