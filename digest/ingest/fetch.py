"""The ingestion stage's orchestrator: fetch -> parse -> (full text) for every source, concurrently.

Downloads run in a bounded pool of threads sharing one httpx client. Parsing
is CPU work under the GIL, so a large run (many remote feeds on a machine
with several cores) parses in a small process pool instead; a small run
parses in the fetching thread. Each source's result is yielded as soon as it
is complete, error or not, always with the feed state to store.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from ..config import IngestSection, SourceSection
from ..errors import FetchError, InputError
from ..models import Article, FeedState, SourceResult
from .clean import derive_title
from .feeds import looks_like_feed, parse_feed
from .files import read_local, resolve_path
from .fulltext import add_full_text, extract_page
from .transport import FEED_ACCEPT, HTML_ACCEPT, Download, decode_text, download, make_client, one_line
from .urls import article_id, canonical_url

PARALLEL_PARSE_MIN_FEEDS = 16  # from this many remote feeds on, parse in worker processes
MAX_PARSE_PROCESSES = 4
FULL_TEXT_PER_SOURCE = 4  # pages fetched at once for one source's teasers
ANY_ACCEPT = f"{HTML_ACCEPT}, {FEED_ACCEPT}"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    stage: str  # "fetch", "parse" or "full-text"
    source: SourceSection
    prior: FeedState
    downloaded: Download | None = None


@dataclass(frozen=True)
class _Parsed:
    downloaded: Download
    articles: list[Article]


def fetch_sources(
    sources: Sequence[SourceSection],
    states: Mapping[str, FeedState],
    settings: IngestSection,
    *,
    base_dir: Path,
    now: datetime,
) -> Iterator[SourceResult]:
    """Fetch and parse every source, yielding each one's result (articles or error, plus its new FeedState) as it completes."""
    sources = list(sources)
    if not sources:
        return
    remote = sum(1 for s in sources if s.is_remote)
    processes = _parse_processes(remote)  # first: the workers fork before this run opens connections or threads
    client = make_client(settings) if remote or any(s.fetch_full_text for s in sources) else None
    threads = ThreadPoolExecutor(max_workers=min(settings.concurrency, len(sources)), thread_name_prefix="ingest")
    pending: dict[Future, _Job] = {}
    # Finished steps arrive on a queue: concurrent.futures.wait() would lock and scan every pending future on
    # each call, quadratic in the number of sources.
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()

    def track(future: Future, job: _Job) -> None:
        pending[future] = job
        future.add_done_callback(finished.put)

    try:
        for source in sources:
            prior = _prior_state(source, states.get(source.name))
            future = threads.submit(_fetch, client, source, prior, settings, base_dir, now, processes is None)
            track(future, _Job("fetch", source, prior))
        while pending:
            future = finished.get()
            job = pending.pop(future)
            result, follow_up = _advance(job, future, client, settings, now, threads, processes or threads)
            if follow_up is not None:
                track(*follow_up)
            if result is not None:
                yield result
    finally:
        threads.shutdown(wait=True, cancel_futures=True)
        if processes is not None:
            processes.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()


def _advance(
    job: _Job,
    future: Future,
    client: httpx.Client | None,
    settings: IngestSection,
    now: datetime,
    threads: Executor,
    parsers: Executor,
) -> tuple[SourceResult | None, tuple[Future, _Job] | None]:
    """Take one finished step of a source: the final result, or the next step to wait for."""
    source = job.source
    try:
        outcome = future.result()
    except BrokenProcessPool:
        # A parser process died (killed, out of memory, or a main module it cannot import): parse here instead.
        log.warning("source=%s parser process failed; parsing in a thread", source.name)
        assert job.downloaded is not None
        follow = threads.submit(_parse, job.downloaded, source.name, now)
        return None, (follow, job)
    except FetchError as exc:
        return _failed(job, str(exc), now), None
    except Exception as exc:  # noqa: BLE001
        # feedparser, trafilatura and lxml run on hostile input; whatever one of them raises for one source
        # is that source's error, logged with its traceback, and the run goes on.
        log.exception("source=%s unexpected error", source.name)
        return _failed(job, f"{source.url}: unexpected {type(exc).__name__}: {one_line(str(exc))}", now), None
    if job.stage == "fetch" and outcome is None:
        state = replace(job.prior, last_fetched=now, last_status="not-modified", last_error=None)
        return SourceResult(source.name, (), state=state, not_modified=True), None
    if job.stage == "fetch" and isinstance(outcome, Download):
        follow = parsers.submit(_parse, outcome, source.name, now)
        return None, (follow, replace(job, stage="parse", downloaded=outcome))
    if isinstance(outcome, _Parsed):
        job = replace(job, downloaded=outcome.downloaded)
        outcome = outcome.articles
    articles: list[Article] = outcome
    if job.stage != "full-text" and source.fetch_full_text and client is not None and articles:
        follow = threads.submit(_add_full_texts, client, articles, settings)
        return None, (follow, replace(job, stage="full-text"))
    return SourceResult(source.name, tuple(articles), state=_succeeded(job, len(articles), now)), None


def _fetch(
    client: httpx.Client | None,
    source: SourceSection,
    prior: FeedState,
    settings: IngestSection,
    base_dir: Path,
    now: datetime,
    parse: bool,
) -> _Parsed | Download | list[Article] | None:
    """A remote feed's download, parsed here when `parse` (None when not modified); a local source's articles."""
    if not source.is_remote:
        return read_local(resolve_path(source.url, base_dir), source=source.name, base_dir=base_dir, now=now)
    assert client is not None
    downloaded = download(client, prior.fetch_url or source.url, settings=settings, etag=prior.etag,
                          last_modified=prior.last_modified)
    if downloaded is None or not parse:
        return downloaded
    return _Parsed(downloaded, _parse(downloaded, source.name, now))


def _parse(downloaded: Download, source: str, now: datetime) -> list[Article]:
    return parse_feed(downloaded.content, url=downloaded.url, source=source, now=now,
                      content_type=downloaded.content_type, charset=downloaded.charset)


def _add_full_texts(client: httpx.Client, articles: list[Article], settings: IngestSection) -> list[Article]:
    """Each teaser's page, a few at a time: one feed's pages usually live on one server."""
    with ThreadPoolExecutor(max_workers=min(FULL_TEXT_PER_SOURCE, len(articles)), thread_name_prefix="fulltext") as pages:
        return list(pages.map(lambda a: add_full_text(client, a, settings), articles))


def _prior_state(source: SourceSection, stored: FeedState | None) -> FeedState:
    """The stored state if it belongs to the configured URL; a fresh one when the config points elsewhere now."""
    if stored is not None and stored.url == source.url:
        return stored
    return FeedState(source=source.name, url=source.url)


def _succeeded(job: _Job, count: int, now: datetime) -> FeedState:
    downloaded = job.downloaded
    return FeedState(
        source=job.source.name,
        url=job.source.url,
        etag=downloaded.etag if downloaded else None,
        last_modified=downloaded.last_modified if downloaded else None,
        last_fetched=now,
        last_status="ok",
        last_error=None,
        item_count=count,
        fetch_url=(downloaded.moved_to if downloaded and downloaded.moved_to else job.prior.fetch_url),
    )


def _failed(job: _Job, message: str, now: datetime) -> SourceResult:
    """An error result; the old validators stay so a fixed feed is downloaded in full next time."""
    message = one_line(message)
    state = replace(job.prior, last_fetched=now, last_status="error", last_error=message)
    return SourceResult(job.source.name, (), state=state, error=message)


def _parse_processes(remote: int) -> ProcessPoolExecutor | None:
    cpus = os.cpu_count() or 1
    if remote < PARALLEL_PARSE_MIN_FEEDS or cpus < 2:
        return None
    # fork is instant (every module is already loaded) and safe here: the workers are started below, before this
    # run's threads and HTTP client exist, and they only ever run the parser. Elsewhere, spawn.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    workers = min(cpus, MAX_PARSE_PROCESSES)
    log.info("parsing %d feeds in %d worker processes", remote, workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    # The first submit starts the workers (with fork, all of them, before it returns); nothing waits for them
    # to be up: the first feeds are still downloading.
    pool.submit(int)
    return pool


def load_articles(
    target: str,
    *,
    base_dir: Path,
    settings: IngestSection,
    source_name: str | None = None,
) -> list[Article]:
    """Articles from one path (article file, folder, feed file) or http(s) URL (a feed, or an article page).

    Raises InputError for a path that cannot be used and FetchError for a URL that cannot be fetched.
    """
    now = datetime.now(timezone.utc)
    if target.startswith(("http://", "https://")):
        return _load_url(target, settings=settings, source=source_name or _site_name(target), now=now)
    path = resolve_path(target, base_dir)
    if not path.exists():
        raise InputError(f"{target}: no such file or folder")
    name = source_name or (path.name if path.is_dir() else path.stem)
    try:
        articles = read_local(path, source=name, base_dir=base_dir, now=now)
    except FetchError as exc:
        raise InputError(str(exc)) from exc
    if not articles:
        raise InputError(f"{target}: no article text found")
    return articles


def _load_url(url: str, *, settings: IngestSection, source: str, now: datetime) -> list[Article]:
    with make_client(settings) as client:
        page = download(client, url, settings=settings, accept=ANY_ACCEPT)
    if page is None:  # only a conditional request can get a 304
        raise FetchError(f"{url}: unexpected 304 Not Modified")
    if looks_like_feed(page.content, page.content_type):
        return parse_feed(page.content, url=page.url, source=source, now=now, content_type=page.content_type,
                          charset=page.charset)
    extracted = extract_page(decode_text(page.content, page.charset) if page.charset else page.content, page.url)
    if extracted is None:
        raise FetchError(f"{url}: no article text found on the page")
    canonical = canonical_url(url)
    return [Article(
        id=article_id(canonical),
        url=canonical,
        title=extracted.title or derive_title(extracted.paragraphs),
        source=source,
        text="\n\n".join(extracted.paragraphs),
        html=extracted.html,
        author=extracted.author,
        published=extracted.published,
        fetched_at=now,
    )]


def _site_name(url: str) -> str:
    host = (urlsplit(url).hostname or url).lower()
    return host[4:] if host.startswith("www.") else host
