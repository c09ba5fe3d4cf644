"""Canonical URLs and stable article ids.

Two links to one article must give one id, whatever tracking junk a feed or a
newsletter glued on: the query loses its tracking parameters, the fragment
goes, the scheme and host are lowercased and a default port is dropped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from ..urls import is_tracking_param

_DEFAULT_PORTS = {"http": 80, "https": 443}
ID_LENGTH = 16


def canonical_url(url: str, base: str | None = None) -> str:
    """`url` (resolved against `base`) without tracking parameters or fragment, scheme and host lowercased.

    >>> canonical_url("HTTPS://Example.COM:443/a?utm_source=x&id=3&fbclid=y#top")
    'https://example.com/a?id=3'
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").rstrip(".")
    try:
        port = parts.port
    except ValueError:  # a junk port: keep the URL recognizable rather than fail the article
        port = None
    netloc = host
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]"
    if port and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query, doseq=True), ""))


def is_http_url(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.netloc)


def article_id(key: str) -> str:
    """A short stable id for a canonical URL, a GUID key or a file key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ID_LENGTH]


def file_key(path: Path, base_dir: Path) -> str:
    """The id key of a local file: its path relative to the config folder, so ids survive a move of the checkout."""
    resolved = path.resolve()
    try:
        rel = resolved.relative_to(base_dir.resolve())
    except ValueError:
        rel = resolved
    return f"file:{rel.as_posix()}"
