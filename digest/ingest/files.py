"""Local sources: article files (.txt, .md, .html), folders of them, and feed files.

A plain-text or Markdown article's title, date and author come from its first
lines (see `clean.read_text_article`); an HTML file goes through the page
extractor. An article file's id is derived from its path relative to the
config folder, so it stays the same wherever the checkout lives.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import FetchError
from ..models import Article
from .clean import parse_date, read_text_article
from .feeds import looks_like_feed, parse_feed
from .fulltext import extract_page
from .urls import article_id, file_key

TEXT_SUFFIXES = frozenset({".txt", ".text"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".feed"})
ARTICLE_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES
MAX_FILE_BYTES = 20_000_000

log = logging.getLogger(__name__)


def resolve_path(location: str, base_dir: Path) -> Path:
    """A source `url` that is a path (or a file:// URI), relative paths taken from `base_dir`."""
    if location.startswith("file://"):
        return Path(unquote(urlsplit(location).path))
    path = Path(location).expanduser()
    return path if path.is_absolute() else base_dir / path


def read_local(path: Path, *, source: str, base_dir: Path, now: datetime) -> list[Article]:
    """Articles from a feed file, an article file or a folder of article files (recursively, sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p.relative_to(path))
                       and p.suffix.lower() in ARTICLE_SUFFIXES | FEED_SUFFIXES)
        articles: list[Article] = []
        for file in files:
            try:
                articles += _read_file(file, source=source, base_dir=base_dir, now=now)
            except FetchError as exc:  # one bad file in a folder is skipped, like one bad feed in a run
                log.warning("source=%s skipped %s", source, exc)
        return articles
    if not path.exists():
        raise FetchError(f"{path}: no such file or folder")
    return _read_file(path, source=source, base_dir=base_dir, now=now)


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith((".", "_")) for part in rel.parts)


def _read_file(path: Path, *, source: str, base_dir: Path, now: datetime) -> list[Article]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FetchError(f"{path}: file over the {MAX_FILE_BYTES}-byte limit")
        content = path.read_bytes()
    except OSError as exc:
        raise FetchError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    if suffix in FEED_SUFFIXES or (suffix not in ARTICLE_SUFFIXES and looks_like_feed(content)):
        return parse_feed(content, url=path.resolve().as_uri(), source=source, now=now)
    article = read_article_bytes(content, path=path, source=source, base_dir=base_dir, now=now)
    return [article] if article else []


def decode_file(content: bytes) -> str:
    """UTF-8 (with or without BOM); failing that Windows-1252, which decodes any byte."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")


def read_article_bytes(content: bytes, *, path: Path, source: str, base_dir: Path, now: datetime) -> Article | None:
    """One article file as an Article; None when it holds no text."""
    suffix = path.suffix.lower()
    html = ""
    if suffix in HTML_SUFFIXES:
        page = extract_page(content, None)  # bytes: the page's own <meta charset> decides
        if page is None:
            log.warning("source=%s %s: no article text found", source, path)
            return None
        title, published, author, paragraphs, html = page.title, page.published, page.author, page.paragraphs, page.html
    else:
        text = decode_file(content)
        hint, meta = (None, {})
        if suffix in MARKDOWN_SUFFIXES:
            text, hint, meta = markdown_to_text(text)
        parsed = read_text_article(text, title_hint=hint)
        title, paragraphs = parsed.title, parsed.paragraphs
        published = parse_date(meta["date"]) if meta.get("date") else parsed.published
        author = meta.get("author") or parsed.author
    if not paragraphs:
        log.warning("source=%s %s: no article text found", source, path)
        return None
    return Article(
        id=article_id(file_key(path, base_dir)),
        url=path.resolve().as_uri(),
        title=title or path.stem,
        source=source,
        text="\n\n".join(paragraphs),
        html=html,
        author=author,
        published=published,
        fetched_at=now,
    )


_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<body>.*?)\n---\s*\n", re.S)
_MD_H1 = re.compile(r"^#\s+(?P<text>.+?)\s*#*\s*$")
_MD_HEADING = re.compile(r"^#{2,6}\s+(?P<text>.+?)\s*#*\s*$")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[(?P<text>[^\]]+)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(?P<text>.+?)(?<=\S)\1")
_MD_QUOTE = re.compile(r"^\s*>\s?")


def markdown_to_text(markdown: str) -> tuple[str, str | None, dict[str, str]]:
    """Markdown -> (plain text, the first-level heading as a title hint, front-matter fields)."""
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(markdown)
    if m:
        for line in m.group("body").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() in ("title", "date", "author", "published"):
                meta[key.strip().lower().replace("published", "date")] = value.strip().strip("\"'")
        markdown = markdown[m.end():]
    title = meta.get("title")
    lines = []
    for line in markdown.splitlines():
        h1 = _MD_H1.match(line)
        if h1 and title is None:
            title = h1.group("text")
            continue
        heading = _MD_HEADING.match(line) or h1
        if heading:
            line = heading.group("text")
        line = _MD_QUOTE.sub("", line)
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(lambda x: x.group("text"), line)
        line = _MD_EMPHASIS.sub(lambda x: x.group("text"), line)
        lines.append(line)
    return "\n".join(lines), title, meta
