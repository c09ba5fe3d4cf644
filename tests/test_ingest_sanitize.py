"""Hostile feed HTML is neutralized; URLs are canonical; ids are stable."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from digest.config import IngestSection, SourceSection
from digest.ingest import fetch_sources
from digest.ingest.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    GENERIC_ATTRIBUTES,
    html_to_paragraphs,
    sanitize_html,
)
from digest.ingest.urls import article_id, canonical_url

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2025, 1, 30, tzinfo=timezone.utc)

VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<style>body { background: url(javascript:alert(1)) }</style>",
    '<div style="background-image: url(javascript:alert(1))">x</div>',
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<object data="evil.swf"></object><embed src="evil.swf">',
    '<form action="https://evil.example/"><button formaction="javascript:alert(1)">go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    '<details open ontoggle="alert(1)"><summary>x</summary></details>',
    '<video><source onerror="alert(1)"></video>',
    "<!--<script>alert(1)</script>-->",
    "<scr<script>ipt>alert(1)</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<table background="javascript:alert(1)"><tr><td>cell</td></tr></table>',
    '<a href="https://ok.example/?q=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">breakout</a>',
]


def assert_harmless(markup: str) -> None:
    """Parse what we store and check every element and attribute against the allowlist."""
    lowered = markup.lower()
    for needle in ("<script", "<iframe", "<style", "<object", "<embed", "<svg", "<math", "<form", "<meta", "<base",
                   "<link", "javascript:", "vbscript:", "data:", "style=", "srcdoc"):
        assert needle not in lowered, f"{needle!r} in {markup!r}"
    if not markup.strip():
        return
    for element in lxml_html.fragment_fromstring(markup, create_parent="div").iter():
        if element.tag == "div" and element.getparent() is None:
            continue
        assert element.tag in ALLOWED_TAGS, element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on")
            assert name in ALLOWED_ATTRIBUTES.get(element.tag, set()) | GENERIC_ATTRIBUTES | {"rel"}, name
            if name in ("href", "src"):
                assert urlsplit(value.strip()).scheme in ("http", "https", "mailto", ""), value


@pytest.mark.parametrize("vector", VECTORS)
def test_hostile_vector_is_neutralized(vector):
    assert_harmless(sanitize_html(f"<p>before</p>{vector}<p>after</p>", "https://feed.example/"))


def test_hostile_feed_stores_nothing_executable_and_keeps_the_safe_parts():
    source = SourceSection(name="Hostile", url=str(FEEDS / "hostile.xml"))

    (result,) = fetch_sources([source], {}, IngestSection(), base_dir=FEEDS, now=NOW)

    (article,) = result.articles
    assert_harmless(article.html)
    assert article.title == "Hostile title"
    assert '<a href="https://ok.example/page" rel="noopener noreferrer nofollow">an ordinary link</a>' in article.html
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == "Safe paragraph with an ordinary link."
    assert paragraphs[-1] == "Last safe paragraph."
    assert "alert" not in article.text.replace("ipt>alert(1)", "")  # only the deliberately split tag's text remains


def test_relative_links_become_absolute_against_the_item_url():
    cleaned = sanitize_html('<p><a href="/about?x=1">about</a> <img src="pic.png" alt="a > b"></p>',
                            "https://news.example/2025/story")

    assert cleaned == ('<p><a href="https://news.example/about?x=1" rel="noopener noreferrer nofollow">about</a> '
                       '<img src="https://news.example/2025/pic.png" alt="a &gt; b"></p>')


@pytest.mark.parametrize("href,expected", [
    ("//cdn.example/x.png", "https://cdn.example/x.png"),
    ("/root?a=1&amp;b=2", "https://news.example:8443/root?a=1&amp;b=2"),
    ("../up", "https://news.example:8443/up"),
    ("x&quot;onmouseover=&quot;alert(1)", "https://news.example:8443/2025/x&quot;onmouseover=&quot;alert(1)"),
])
def test_relative_links_are_joined_onto_the_base_url_and_stay_quoted(href, expected):
    cleaned = sanitize_html(f'<a href="{href}">x</a>', "https://news.example:8443/2025/story?id=4#top")

    assert cleaned == f'<a href="{expected}" rel="noopener noreferrer nofollow">x</a>'
    assert_harmless(cleaned)


def test_html_to_paragraphs_splits_blocks_and_drops_headings():
    cleaned = sanitize_html("<h2>Section</h2><p>One <b>bold</b>\nline.</p><ul><li>first</li><li>second</li></ul>"
                            "<blockquote>Quoted &amp; escaped &lt;tag&gt;</blockquote>")

    assert html_to_paragraphs(cleaned) == ["One bold line.", "first", "second", "Quoted & escaped <tag>"]


@pytest.mark.parametrize("url,expected", [
    ("https://Example.COM/a?utm_source=x&utm_medium=y&id=3#section", "https://example.com/a?id=3"),
    ("http://example.com:80/path?fbclid=abc", "http://example.com/path"),
    ("https://example.com:443/?gclid=1&mc_cid=2&mc_eid=3&q=ok", "https://example.com/?q=ok"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
    ("HTTPS://EXAMPLE.com/CaseKept/Path", "https://example.com/CaseKept/Path"),
])
def test_canonical_url_removes_tracking_and_fragment(url, expected):
    assert canonical_url(url) == expected


def test_tracking_parameters_do_not_change_the_article_id():
    plain = article_id(canonical_url("https://example.com/story"))

    assert article_id(canonical_url("https://EXAMPLE.com/story?utm_campaign=feed#comments")) == plain
    assert article_id(canonical_url("https://example.com/story?fbclid=xyz")) == plain
    assert article_id(canonical_url("https://example.com/other")) != plain
