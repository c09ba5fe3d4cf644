"""Ingestion: feeds (HTTP or files) and article files -> normalized, sanitized `Article`s.

`fetch_sources` is what the pipeline calls for the configured sources;
`load_articles` reads one path or URL for commands that take them directly.
Modules: `transport` (HTTP), `feeds` (feedparser), `files` (local sources),
`fulltext` (page extraction), `clean` (boilerplate), `sanitize` (nh3),
`urls` (canonical URLs, ids), `fetch` (the orchestrator).
"""

from .fetch import fetch_sources, load_articles

__all__ = ["fetch_sources", "load_articles"]
