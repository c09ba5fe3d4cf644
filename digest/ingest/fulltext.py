"""The main text of a web page (trafilatura), for HTML files, page URLs and teaser-only feed items.

A source with ``fetch_full_text = true`` gets each teaser item's linked page
fetched and extracted; any failure (network, not HTML, nothing extracted, or
less text than the feed gave) keeps the feed's own text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import httpx
import trafilatura

from ..config import IngestSection
from ..errors import FetchError
from ..models import Article
from .clean import clean_paragraphs, parse_date, word_count
from .sanitize import html_to_paragraphs, sanitize_html
from .transport import HTML_ACCEPT, decode_text, download

TEASER_WORDS = 150  # feed text shorter than this is a teaser
TEASER_ENDINGS = ("…", "...", "[…]", "[...]", "read more", "continue reading")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """The article part of a web page."""

    title: str | None
    author: str | None
    published: datetime | None
    paragraphs: tuple[str, ...]
    html: str  # sanitized


def extract_page(markup: str | bytes, url: str | None = None) -> Page | None:
    """Main text and metadata of an HTML page; None when nothing article-like is found.

    Give bytes when the charset is unknown: the extractor then reads the page's own <meta charset>.
    """
    base = url if url and url.startswith(("http://", "https://")) else None
    body = trafilatura.extract(markup, url=base, output_format="html", include_comments=False, include_links=True,
                               include_images=False, include_tables=True)
    if not body:
        return None
    clean = sanitize_html(body, base)
    paragraphs = tuple(clean_paragraphs(html_to_paragraphs(clean)))
    if not paragraphs:
        return None
    meta = trafilatura.extract_metadata(markup, default_url=base)
    published = parse_date(meta.date) if meta and meta.date else None
    return Page(
        title=(meta.title or None) if meta else None,
        author=(meta.author or None) if meta else None,
        published=published,
        paragraphs=paragraphs,
        html=clean,
    )


def is_teaser(article: Article) -> bool:
    text = article.text.rstrip().lower()
    return word_count(text) < TEASER_WORDS or text.endswith(TEASER_ENDINGS)


def add_full_text(client: httpx.Client, article: Article, settings: IngestSection) -> Article:
    """`article` with its linked page's main text, when that gives more than the feed did; else unchanged."""
    if not article.url.startswith(("http://", "https://")) or not is_teaser(article):
        return article
    try:
        page = download(client, article.url, settings=settings, accept=HTML_ACCEPT)
    except FetchError as exc:
        log.info("full text skipped: %s", exc)
        return article
    if page is None or "html" not in page.content_type:
        log.info("full text skipped: %s: not an HTML page (%s)", article.url, page.content_type if page else "304")
        return article
    extracted = extract_page(decode_text(page.content, page.charset) if page.charset else page.content, page.url)
    if extracted is None or word_count(" ".join(extracted.paragraphs)) <= word_count(article.text):
        log.info("full text skipped: %s: no more text than the feed", article.url)
        return article
    return replace(article, text="\n\n".join(extracted.paragraphs), html=extracted.html,
                   author=article.author or extracted.author, published=article.published or extracted.published)


