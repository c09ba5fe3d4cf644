"""A day in the life, end to end: feeds over loopback HTTP, a clock moved through two days,
the scheduled jobs run at their fire times, and a real SMTP server in another process.

Feeds publish new items as the controllable clock advances; an hourly ingest job and the
07:00 issue job (fire times from the real CronTrigger) run at the clock's times. Each
subscriber must receive exactly two issues, and the second must not repeat the first.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest import pipeline, schedule, storage
from digest.storage import runs as run_store

from .smtp_servers import start_server

UTC = timezone.utc
FEEDS = 3
START = datetime(2025, 1, 28, 12, 0, tzinfo=UTC)  # noon, the day before the first issue
END = datetime(2025, 1, 30, 12, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parent / "data" / "dedup" / "corpus.jsonl"


class Clock:
    """The test's time: the feeds publish by it, the jobs run at it."""

    def __init__(self, now: datetime) -> None:
        self.now = now


def one_article_per_story() -> list[dict]:
    """The first article of each of the 27 stories in dedup's labeled corpus: 27 distinct events."""
    seen: dict[str, dict] = {}
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        seen.setdefault(row["story"], row)
    return list(seen.values())


def make_items(feed: int) -> list[dict]:
    """Items of one feed: one every 5 hours from START, each on its own event."""
    rows = one_article_per_story()[feed::FEEDS]
    return [{"title": row["title"], "id": f"feed{feed}-item{n}", "paragraphs": row["text"].split("\n\n"),
             "published": START + timedelta(hours=5 * n, minutes=7 * feed + 1)}
            for n, row in enumerate(rows)]


def feed_xml(feed: int, items: list[dict], now: datetime, base: str) -> str:
    visible = [i for i in items if i["published"] <= now]
    entries = "".join(
        f"<item><title>{escape(i['title'])}</title><link>{base}/articles/{i['id']}</link>"
        f"<guid isPermaLink=\"false\">{i['id']}</guid><pubDate>{format_datetime(i['published'])}</pubDate>"
        f"<description>{escape(''.join(f'<p>{p}</p>' for p in i['paragraphs']))}</description></item>"
        for i in reversed(visible))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire {feed}</title>'
            f"<link>{base}/</link><description>Feed {feed}</description>{entries}</channel></rss>")


@pytest.fixture
def feed_server():
    clock = Clock(START)
    items = {f: make_items(f) for f in range(FEEDS)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            name = self.path.strip("/")
            if not (name.startswith("feed") and name.endswith(".xml")):
                self.send_error(404)
                return
            feed = int(name[4:-4])
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            body = feed_xml(feed, items[feed], clock.now, base).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield clock, items, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def stories_told(text: str) -> list[set[str]]:
    """The article ids of each story in a text part, from the source links listed under it."""
    blocks = re.split(r"\n-{20,}\n", text.replace("\r\n", "\n"))
    return [set(ids) for block in blocks if (ids := re.findall(r"/articles/(feed\d+-item\d+)", block))]


def text_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def test_two_days_two_issues_each_subscriber_and_no_story_twice(make_config, feed_server, tmp_path):
    clock, items, base = feed_server
    smtp = start_server(tmp_path / "received.jsonl", "--tls", "none")
    try:
        config = make_config(
            digest={"timezone": "Europe/Berlin", "lookback_hours": 48, "max_stories": 30, "quick_hits": 0},
            sources=[{"name": f"Wire {f}", "url": f"{base}/feed{f}.xml"} for f in range(FEEDS)],
            delivery={"mode": "smtp"},
            smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none", "max_retries": 1},
            schedule={"cron": "0 7 * * *", "ingest_interval_minutes": 60, "min_new_stories": 1},
            subscribers=[{"email": "ada@example.com", "first_name": "Ada"}, {"email": "grace@example.com"}],
        )
        conn = storage.connect(config.db_path)
        issue_fires = schedule.fire_times(schedule.make_trigger(config), START, END)
        ingest_every = timedelta(minutes=config.schedule.ingest_interval_minutes)
        ticks = sorted({START + ingest_every * n for n in range(int((END - START) / ingest_every))} | set(issue_fires))

        outcomes = []
        for tick in ticks:
            clock.now = tick
            if tick in issue_fires:
                result = schedule.run_due(config, conn, now=tick + timedelta(seconds=1))
                outcomes.append((result.key, result.outcome))
            else:
                pipeline.ingest(config, conn, now=tick)

        # 07:00 in Berlin is 06:00 UTC in January.
        assert [f.astimezone(UTC).isoformat() for f in issue_fires] == [
            "2025-01-29T06:00:00+00:00", "2025-01-30T06:00:00+00:00"]
        assert outcomes == [("2025-01-29", "sent"), ("2025-01-30", "sent")]
        assert smtp.received_counts() == {"ada@example.com": 2, "grace@example.com": 2}

        by_recipient: dict[str, list[str]] = {}
        for message in smtp.messages():
            by_recipient.setdefault(message["to"][0], []).append(text_part(message["data"]))
        first, second = by_recipient["ada@example.com"]
        every = [i for f in range(FEEDS) for i in items[f]]
        before_first = {i["id"] for i in every if i["published"] <= issue_fires[0]}
        between = {i["id"] for i in every if issue_fires[0] < i["published"] <= issue_fires[1]}
        assert (len(before_first), len(between)) == (12, 15)
        first_stories, second_stories = stories_told(first), stories_told(second)
        # The first issue tells everything published before it, and nothing else.
        assert set().union(*first_stories) == before_first
        # The second tells everything published since; no story of it is made only of what the first told
        # (an older article may come back only beside new ones, as an update of its story).
        assert set().union(*second_stories) >= between
        assert [story for story in second_stories if story <= before_first] == []
        assert [r.outcome for r in run_store.recent_runs(conn)] == ["sent", "sent"]
    finally:
        smtp.stop()
