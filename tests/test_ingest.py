"""Ingesting feeds over real HTTP: a loopback server serves good, slow, broken and huge feeds."""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest import pipeline
from digest.config import IngestSection, SourceSection
from digest.errors import FetchError, InputError
from digest.ingest import fetch_sources, load_articles
from digest.models import FeedState, SourceResult
from digest.storage import articles as article_store

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEEDS = FIXTURES / "feeds"
NOW = datetime(2025, 1, 30, 12, 0, tzinfo=timezone.utc)
SETTINGS = IngestSection(concurrency=8, timeout_seconds=0.5, max_bytes=200_000, user_agent="digest-test/1.0 (+tests)")
ETAG = '"rss2-v1"'
LAST_MODIFIED = "Wed, 29 Jan 2025 15:00:00 GMT"


@dataclass
class FeedServer:
    """A real HTTP server on 127.0.0.1 and what it saw."""

    base: str
    requests: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    gzipped: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def seen(self, path: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r["path"] == path]


def _handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            server.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            route = getattr(self, "route_" + self.path.strip("/").replace(".", "_").replace("-", "_"), None)
            if route is None:
                self.send(404, b"not here", "text/plain")
            else:
                route()

        def send(self, status: int, body: bytes = b"", content_type: str = "application/rss+xml; charset=utf-8",
                 headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 200:
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
                server.gzipped.append(self.path)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def fixture(self, name: str) -> bytes:
            return (FEEDS / name).read_bytes().replace(b"{BASE}", server.base.encode())

        def route_rss2_xml(self) -> None:
            if self.headers.get("If-None-Match") == ETAG:
                self.send(304, headers={"ETag": ETAG})
            else:
                self.send(200, self.fixture("rss2.xml"), headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})

        def route_no_etag_xml(self) -> None:
            self.send(200, self.fixture("rss2.xml"))

        def route_atom_xml(self) -> None:
            self.send(200, self.fixture("atom.xml"), "application/atom+xml")

        def route_teaser_xml(self) -> None:
            self.send(200, self.fixture("teaser.xml"))

        def route_hostile_xml(self) -> None:
            self.send(200, self.fixture("hostile.xml"))

        def route_page_html(self) -> None:
            self.send(200, (FIXTURES / "ingest" / "page.html").read_bytes(), "text/html; charset=utf-8")

        def route_moved_xml(self) -> None:
            self.send(301, headers={"Location": "/rss2.xml"})

        def route_moved_308_xml(self) -> None:
            self.send(308, headers={"Location": server.url("/atom.xml")})

        def route_temporary_xml(self) -> None:
            self.send(302, headers={"Location": "/atom.xml"})

        def route_loop_xml(self) -> None:
            self.send(301, headers={"Location": "/loop.xml"})

        def route_gone_xml(self) -> None:
            self.send(404, b"<html>gone</html>", "text/html")

        def route_error_xml(self) -> None:
            self.send(500, b"<html>oops</html>", "text/html")

        def route_slow_xml(self) -> None:
            server.release.wait(10)  # past the client's 0.5 s timeout; released when the test ends
            self.send(200, self.fixture("rss2.xml"))

        def route_malformed_xml(self) -> None:
            self.send(200, self.fixture("malformed.xml"))

        def route_latin1_xml(self) -> None:
            self.send(200, self.fixture("latin1.xml"), "application/rss+xml; charset=utf-8")

        def route_empty_xml(self) -> None:
            self.send(200, b"")

        def route_html_xml(self) -> None:
            self.send(200, b"<!DOCTYPE html><html><body><p>Not a feed</p></body></html>", "text/html")

        def route_huge_xml(self) -> None:
            # No Content-Length: the client has to count while it reads and stop by itself.
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.end_headers()
            chunk = b"<item><title>padding</title></item>" * 2000
            try:
                self.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel>')
                for _ in range(100):  # about 7 MB
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def route_huge_declared_xml(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", "50000000")
            self.end_headers()

    return Handler


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = FeedServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    httpd.shutdown()
    httpd.server_close()


def fetch(server: FeedServer, *paths: str, states: dict[str, FeedState] | None = None,
          settings: IngestSection = SETTINGS, **source_options) -> dict[str, SourceResult]:
    sources = [SourceSection(name=p, url=server.url(p), **source_options) for p in paths]
    results = fetch_sources(sources, states or {}, settings, base_dir=FIXTURES, now=NOW)
    return {r.source: r for r in results}


def test_rss_feed_gives_articles_with_canonical_urls_ids_and_utc_dates(feed_server):
    result = fetch(feed_server, "/rss2.xml")["/rss2.xml"]

    assert result.ok and not result.not_modified
    first, second, third = result.articles
    assert first.url == "https://example.com/news/chips?id=7"
    assert first.title == "Chipmaker shares & the AI race"
    assert first.source == "/rss2.xml"
    assert first.author == "Jane Doe"
    assert first.published == datetime(2025, 1, 29, 13, 30, tzinfo=timezone.utc)
    assert first.fetched_at == NOW
    assert first.guid == "example-chips-7"
    assert first.text == ("Chipmaker shares fell sharply on Monday after a cheaper AI model appeared.\n\n"
                          "Analysts said the sell-off was overdone.")
    assert 'href="https://example.com/analysis/ai?fbclid=abc"' in first.html
    assert second.url == "https://example.com/news/second"
    assert second.published == datetime(2025, 1, 28, 8, 0, tzinfo=timezone.utc)
    assert third.url == feed_server.url("/rss2.xml")
    assert third.guid == "urn:example:3"
    assert len({first.id, second.id, third.id}) == 3
    assert result.state == FeedState(source="/rss2.xml", url=feed_server.url("/rss2.xml"), etag=ETAG,
                                     last_modified=LAST_MODIFIED, last_fetched=NOW, last_status="ok",
                                     last_error=None, item_count=3)


def test_atom_entries_keep_their_author_and_plain_text_summary(feed_server):
    one, two = fetch(feed_server, "/atom.xml")["/atom.xml"].articles

    assert one.title == "Atom entry one"
    assert one.url == "https://atom.example.org/2025/01/one"
    assert one.published == datetime(2025, 1, 29, 15, 0, tzinfo=timezone.utc)
    assert one.author == "Sam Writer"
    assert one.text == "First paragraph of the Atom entry.\n\nSecond paragraph."
    assert two.text == "A plain-text summary <not a tag> of entry two."
    assert two.html == ""
    assert two.published == datetime(2025, 1, 28, 9, 0, tzinfo=timezone.utc)


def test_requests_send_the_configured_user_agent_and_accept_gzip(feed_server):
    fetch(feed_server, "/rss2.xml")

    (request,) = feed_server.seen("/rss2.xml")
    assert request["user-agent"] == "digest-test/1.0 (+tests)"
    assert "gzip" in request["accept-encoding"]
    assert feed_server.gzipped == ["/rss2.xml"]


def test_second_fetch_is_conditional_and_304_gives_no_articles(feed_server):
    first = fetch(feed_server, "/rss2.xml")["/rss2.xml"]
    second = fetch(feed_server, "/rss2.xml", states={"/rss2.xml": first.state})["/rss2.xml"]

    assert feed_server.seen("/rss2.xml")[1]["if-none-match"] == ETAG
    assert feed_server.seen("/rss2.xml")[1]["if-modified-since"] == LAST_MODIFIED
    assert second.ok and second.not_modified
    assert second.articles == ()
    assert second.state.etag == ETAG
    assert second.state.last_status == "not-modified"
    assert second.state.item_count == 3


def test_stored_state_of_another_url_is_not_used(feed_server):
    old = FeedState(source="/rss2.xml", url="http://old.example/feed", etag=ETAG, fetch_url="http://old.example/x")

    result = fetch(feed_server, "/rss2.xml", states={"/rss2.xml": old})["/rss2.xml"]

    assert "if-none-match" not in feed_server.seen("/rss2.xml")[0]
    assert len(result.articles) == 3


def test_permanent_redirect_moves_the_url_fetched_next_time(feed_server):
    first = fetch(feed_server, "/moved.xml", "/moved-308.xml")

    assert first["/moved.xml"].state.fetch_url == feed_server.url("/rss2.xml")
    assert first["/moved.xml"].state.url == feed_server.url("/moved.xml")
    assert len(first["/moved.xml"].articles) == 3
    assert first["/moved-308.xml"].state.fetch_url == feed_server.url("/atom.xml")

    fetch(feed_server, "/moved.xml", states={"/moved.xml": first["/moved.xml"].state})
    assert len(feed_server.seen("/moved.xml")) == 1  # the second run went straight to the new URL


def test_temporary_redirect_is_followed_but_not_remembered(feed_server):
    result = fetch(feed_server, "/temporary.xml")["/temporary.xml"]

    assert len(result.articles) == 2
    assert result.state.fetch_url is None


@pytest.mark.parametrize("path,problem", [
    ("/gone.xml", "HTTP 404 Not Found"),
    ("/error.xml", "HTTP 500 Internal Server Error"),
    ("/slow.xml", "timed out after 0.5s"),
    ("/empty.xml", "empty response"),
    ("/huge.xml", "response over the 200000-byte limit (cut off)"),
    ("/huge-declared.xml", "response of 50000000 bytes is over the 200000-byte limit"),
    ("/loop.xml", "more than 5 redirects"),
    ("/html.xml", "not an RSS or Atom feed"),
])
def test_broken_feed_is_recorded_with_a_one_line_error(feed_server, path, problem):
    old = FeedState(source=path, url=feed_server.url(path), etag='"old"', last_modified=LAST_MODIFIED, item_count=4)

    result = fetch(feed_server, path, states={path: old})[path]

    assert not result.ok
    assert result.articles == ()
    assert result.error.startswith(feed_server.url(path))
    assert problem in result.error
    assert "\n" not in result.error
    assert result.state.last_status == "error"
    assert result.state.last_error == result.error
    assert result.state.last_fetched == NOW
    assert (result.state.etag, result.state.last_modified, result.state.item_count) == ('"old"', LAST_MODIFIED, 4)


def test_malformed_xml_is_recorded_and_skipped(feed_server):
    result = fetch(feed_server, "/malformed.xml")["/malformed.xml"]

    assert result.error.startswith(f"{feed_server.url('/malformed.xml')}: malformed feed: ")
    assert result.state.last_status == "error"


def test_tls_error_is_recorded(feed_server):
    url = feed_server.url("/rss2.xml").replace("http://", "https://")  # TLS handshake with a plain-HTTP server

    (result,) = fetch_sources([SourceSection(name="tls", url=url)], {}, SETTINGS, base_dir=FIXTURES, now=NOW)

    assert result.error.startswith(f"{url}: TLS error: ")


def test_feed_declared_utf8_but_latin1_is_still_read(feed_server):
    (article,) = fetch(feed_server, "/latin1.xml")["/latin1.xml"].articles

    assert article.title == "Café crème prices rise"
    assert article.text == "Naïve résumé of the day's café news."


def test_one_broken_feed_does_not_stop_the_others(feed_server):
    results = fetch(feed_server, "/rss2.xml", "/gone.xml", "/slow.xml", "/malformed.xml", "/atom.xml", "/latin1.xml")

    assert {name for name, r in results.items() if r.ok} == {"/rss2.xml", "/atom.xml", "/latin1.xml"}
    assert {name for name, r in results.items() if not r.ok} == {"/gone.xml", "/slow.xml", "/malformed.xml"}
    assert all(r.state is not None and r.state.source == name for name, r in results.items())


def test_many_feeds_are_parsed_in_worker_processes(feed_server, caplog):
    caplog.set_level(logging.INFO, logger="digest.ingest")
    paths = ["/rss2.xml", "/atom.xml", "/latin1.xml", "/gone.xml"] * 5  # 20 sources: past the process-pool threshold
    sources = [SourceSection(name=f"feed {i}", url=feed_server.url(p)) for i, p in enumerate(paths)]

    settings = IngestSection(concurrency=8, timeout_seconds=10.0, max_bytes=200_000)

    results = list(fetch_sources(sources, {}, settings, base_dir=FIXTURES, now=NOW))

    assert sorted(len(r.articles) for r in results) == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    assert sum(1 for r in results if not r.ok) == 5
    if (os.cpu_count() or 1) >= 2:
        assert any(re.fullmatch(r"parsing 20 feeds in \d+ worker processes", m) for m in caplog.messages)


def test_full_text_replaces_a_teaser_and_falls_back_to_it_when_the_page_fails(feed_server):
    plain = fetch(feed_server, "/teaser.xml")["/teaser.xml"].articles
    full, kept = fetch(feed_server, "/teaser.xml", fetch_full_text=True)["/teaser.xml"].articles

    assert plain[0].text == "The first lines of the story…"
    assert full.text.startswith("The first lines of the story are followed here by the rest of it")
    assert len(full.text.split("\n\n")) == 4
    assert "Home" not in full.text and "Privacy" not in full.text
    assert "onclick" not in full.html and "<iframe" not in full.html
    assert full.title == "Teaser item"
    assert kept.text == "A teaser that keeps its own text…"


def test_load_articles_reads_a_page_url_a_feed_url_and_a_path(feed_server):
    (page,) = load_articles(feed_server.url("/page.html"), base_dir=FIXTURES, settings=SETTINGS)
    feed = load_articles(feed_server.url("/atom.xml"), base_dir=FIXTURES, settings=SETTINGS, source_name="Atom")
    local = load_articles("feeds/rss1.xml", base_dir=FIXTURES, settings=SETTINGS)

    assert page.title == "Full story of the teaser"
    assert page.source == "127.0.0.1"
    assert page.author == "Page Author"
    assert page.published == datetime(2025, 1, 29, tzinfo=timezone.utc)
    assert [a.title for a in feed] == ["Atom entry one", "Atom entry two"]
    assert {a.source for a in feed} == {"Atom"}
    assert [(a.title, a.source, a.author) for a in local] == [("RSS one-dot-oh item", "rss1", "Rdf Author")]


def test_load_articles_errors_name_the_target(feed_server):
    with pytest.raises(InputError, match=r"^nowhere/at-all\.txt: no such file or folder$"):
        load_articles("nowhere/at-all.txt", base_dir=FIXTURES, settings=SETTINGS)
    with pytest.raises(FetchError, match=r"/gone\.xml: HTTP 404 Not Found$"):
        load_articles(feed_server.url("/gone.xml"), base_dir=FIXTURES, settings=SETTINGS)


def test_reingesting_an_unchanged_feed_stores_nothing_new(feed_server, db, make_config):
    config = make_config(sources=[{"name": "Example", "url": feed_server.url("/rss2.xml")},
                                  {"name": "No validators", "url": feed_server.url("/no-etag.xml")},
                                  {"name": "Broken", "url": feed_server.url("/gone.xml")}],
                         ingest={"timeout_seconds": 2.0})

    first = pipeline.ingest(config, db, now=NOW)
    second = pipeline.ingest(config, db, now=NOW)

    # Both feeds list the same two linked items (one article each) and a link-less item known by a GUID,
    # which is only unique within its feed: four articles.
    assert (first.new, first.updated, first.unchanged) == (4, 0, 2)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 3)
    assert article_store.count_articles(db) == 4
    states = article_store.feed_states(db)
    assert states["Example"].last_status == "not-modified"
    assert states["No validators"].last_status == "ok"
    assert states["Broken"].last_status == "error"
    assert states["Broken"].last_error == f"{feed_server.url('/gone.xml')}: HTTP 404 Not Found"
    assert [r.source for r in second.failed] == ["Broken"]


def test_permanent_redirect_is_stored_and_used_by_the_next_run(feed_server, db, make_config):
    config = make_config(sources=[{"name": "Moved", "url": feed_server.url("/moved.xml")}])

    pipeline.ingest(config, db, now=NOW)
    pipeline.ingest(config, db, now=NOW)

    assert article_store.feed_states(db)["Moved"].fetch_url == feed_server.url("/rss2.xml")
    assert len(feed_server.seen("/moved.xml")) == 1
    assert feed_server.seen("/rss2.xml")[1]["if-none-match"] == ETAG


def test_local_feed_files_of_every_flavour(tmp_path):
    for name in ("rss091.xml", "rss1.xml", "rss2.xml", "atom.xml"):
        shutil.copy(FEEDS / name, tmp_path / name)
    sources = [SourceSection(name=n, url=n) for n in ("rss091.xml", "rss1.xml", "rss2.xml", "atom.xml")]

    results = {r.source: r for r in fetch_sources(sources, {}, SETTINGS, base_dir=tmp_path, now=NOW)}

    assert [a.title for a in results["rss091.xml"].articles] == ["An RSS 0.91 item"]
    assert results["rss091.xml"].articles[0].published is None
    assert [a.published for a in results["rss1.xml"].articles] == [datetime(2025, 1, 27, 12, 0, tzinfo=timezone.utc)]
    assert len(results["rss2.xml"].articles) == 3
    assert len(results["atom.xml"].articles) == 2
    assert all(r.state.last_status == "ok" for r in results.values())


def test_missing_local_source_is_an_error_result(tmp_path):
    (result,) = fetch_sources([SourceSection(name="gone", url="no/such/folder")], {}, SETTINGS,
                              base_dir=tmp_path, now=NOW)

    assert result.error == f"{tmp_path / 'no/such/folder'}: no such file or folder"
    assert result.state.last_status == "error"
