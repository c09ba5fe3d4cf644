"""HTTP for ingestion: one shared httpx client, conditional GET, redirects, a size cap.

Redirects are followed here rather than by httpx so that a chain of permanent
redirects (301/308) can be told apart from temporary ones: only the former
moves the URL we fetch next time. Every failure becomes a `FetchError` whose
message is one line naming the URL and the problem.
"""

from __future__ import annotations

import codecs
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from ..config import IngestSection
from ..errors import FetchError

MAX_REDIRECTS = 5
PERMANENT_REDIRECTS = frozenset({301, 308})
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, "
               "text/xml;q=0.8, */*;q=0.5")
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
CHUNK_SIZE = 65536
MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class Download:
    """A complete 200 response."""

    url: str  # after redirects
    content: bytes  # decoded from gzip/deflate
    content_type: str  # lowercased media type, without parameters
    charset: str | None
    etag: str | None
    last_modified: str | None
    moved_to: str | None  # where a chain of permanent redirects led, None when there was none


def make_client(settings: IngestSection) -> httpx.Client:
    """The client all of one run's threads share: keep-alive pool, our User-Agent, gzip, timeouts."""
    return httpx.Client(
        headers={"User-Agent": settings.user_agent, "Accept": FEED_ACCEPT},
        timeout=httpx.Timeout(settings.timeout_seconds),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=settings.concurrency * 2, max_keepalive_connections=settings.concurrency),
    )


def one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def download(
    client: httpx.Client,
    url: str,
    *,
    settings: IngestSection,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = FEED_ACCEPT,
) -> Download | None:
    """GET `url` (conditionally when `etag`/`last_modified` are given); None means 304 Not Modified."""
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + settings.timeout_seconds
    moved_to: str | None = None
    all_permanent = True
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            with client.stream("GET", current, headers=headers) as response:
                if response.status_code == 304:
                    return None
                if response.is_redirect:
                    location = response.headers.get("location", "").strip()
                    if not location:
                        raise FetchError(f"{current}: HTTP {response.status_code} redirect without a Location")
                    target = urljoin(current, location)
                    if not target.startswith(("http://", "https://")):
                        raise FetchError(f"{current}: redirect to a non-HTTP URL {one_line(target)}")
                    all_permanent = all_permanent and response.status_code in PERMANENT_REDIRECTS
                    if all_permanent:
                        moved_to = target
                    current = target
                    continue
                if response.status_code != 200:
                    reason = response.reason_phrase or ""
                    raise FetchError(f"{current}: HTTP {response.status_code} {reason}".rstrip())
                content = _read_capped(response, current, settings, deadline)
                media, _, params = response.headers.get("content-type", "").partition(";")
                return Download(
                    url=str(response.url),
                    content=content,
                    content_type=media.strip().lower(),
                    charset=_charset(params),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    moved_to=moved_to,
                )
        except httpx.TimeoutException:
            raise FetchError(f"{current}: timed out after {settings.timeout_seconds:g}s") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"{current}: {_describe(exc)}") from exc
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _read_capped(response: httpx.Response, url: str, settings: IngestSection, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise FetchError(f"{url}: response of {int(declared)} bytes is over the {settings.max_bytes}-byte limit")
    chunks: list[bytes] = []
    size = 0
    # Counting decoded bytes also stops a gzip bomb; the deadline stops a server that drips bytes slowly.
    for chunk in response.iter_bytes(CHUNK_SIZE):
        size += len(chunk)
        if size > settings.max_bytes:
            raise FetchError(f"{url}: response over the {settings.max_bytes}-byte limit (cut off)")
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: timed out after {settings.timeout_seconds:g}s (body still arriving)")
        chunks.append(chunk)
    content = b"".join(chunks)
    if not content.strip():
        raise FetchError(f"{url}: empty response")
    return content


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


def _describe(exc: Exception) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {one_line(str(cause))}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {one_line(str(exc))}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response body: {one_line(str(exc))}"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid URL: {one_line(str(exc))}"
    return f"{type(exc).__name__}: {one_line(str(exc)) or 'no detail'}"


def decode_text(content: bytes, charset: str | None) -> str:
    """Bytes of a text/html response as text: the declared charset if it decodes, else UTF-8, else Windows-1252."""
    for encoding in (charset, "utf-8"):
        if not encoding:
            continue
        try:
            codecs.lookup(encoding)
            return content.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return content.decode("cp1252", errors="replace")
