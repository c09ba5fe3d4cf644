"""Feed HTML is hostile: make it safe (nh3) and turn it into plain paragraphs.

`sanitize_html` keeps a small allowlist of formatting tags and link/image
attributes, allows only http, https and mailto URLs, and drops script, style,
iframe, object, form and the like together with their content. Everything
else (on* handlers, style attributes, javascript:/data: URLs) never survives.
`html_to_paragraphs` reads the sanitizer's own output, whose serialization is
regular (attributes double-quoted, text escaped), which is what makes the
simple tag scanner below safe to use.
"""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt", "em", "figcaption",
    "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre",
    "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
GENERIC_ATTRIBUTES = frozenset({"lang", "title"})  # allowed on every allowed tag
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with everything inside them (the rest of the disallowed tags keep their text).
DROP_WITH_CONTENT = frozenset({
    "script", "style", "noscript", "template", "iframe", "frame", "frameset", "object", "embed", "applet",
    "svg", "math", "select", "textarea", "button", "head", "title", "canvas", "audio", "video",
})
_URL_ATTRIBUTES = frozenset({"href", "src"})

_HEADING = re.compile(r"<h[1-6]\b[^>]*>.*?</h[1-6]>", re.S | re.I)
_BREAK = re.compile(r"<br\s*/?>", re.I)
_BLOCK = re.compile(
    r"</?(?:p|div|li|ul|ol|dl|dt|dd|blockquote|pre|table|thead|tbody|tfoot|tr|td|th|caption|figure|figcaption|hr|h[1-6])\b"
    r"(?:[^>\"]|\"[^\"]*\")*>",
    re.I,
)
_TAG = re.compile(r"<(?:[^>\"]|\"[^\"]*\")*>")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


# Built once: configuring a cleaner costs ten times what cleaning one feed item does.
_CLEANER = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    clean_content_tags=set(DROP_WITH_CONTENT),
    attributes={"*": set(GENERIC_ATTRIBUTES), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}},
    url_schemes=set(URL_SCHEMES),
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags=set(DROP_WITH_CONTENT), strip_comments=True)
# The cleaner's output always double-quotes attribute values and escapes quotes inside them.
_URL_ATTRIBUTE = re.compile(r'(?P<name>\s(?:href|src)=)"(?P<value>[^"]*)"')
_ABSOLUTE = ("http://", "https://", "mailto:", "#")
_ATTRIBUTE_SPECIALS = ('&', '"', "<", ">", "\u00a0")


def _absolutize(cleaned: str, base_url: str) -> tuple[str, bool]:
    """Relative href/src values made absolute, and whether any result needs another pass of the cleaner.

    A value joined onto an http(s) base is an http(s) URL, written back escaped exactly as the cleaner
    serializes attributes, so the output is what a second cleaner pass would give; anything else is flagged.
    """
    recheck = False

    def resolve(m: re.Match[str]) -> str:
        nonlocal recheck
        value = htmllib.unescape(m.group("value")).strip()
        if not value or value.startswith(_ABSOLUTE):
            return m.group(0)
        if value.startswith("//"):
            value = f"{urlsplit(base_url).scheme}:{value}"
        elif value.startswith("/"):
            parts = urlsplit(base_url)
            value = f"{parts.scheme}://{parts.netloc}{value}"
        else:
            value = urljoin(base_url, value)
        if not value.startswith(("http://", "https://")):
            recheck = True
        return f'{m.group("name")}"{_escape_attribute(value)}"'

    return _URL_ATTRIBUTE.sub(resolve, cleaned), recheck


def _escape_attribute(value: str) -> str:
    """An attribute value escaped the way the cleaner (html5ever) serializes one: & " < > and no-break space."""
    if not any(c in value for c in _ATTRIBUTE_SPECIALS):
        return value
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\u00a0", "&nbsp;"))


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """Allowlist-clean an HTML fragment; relative links are made absolute against `base_url` (http(s) only)."""
    if not fragment or not fragment.strip():
        return ""
    cleaned = _CLEANER.clean(fragment).strip()
    if base_url and base_url.startswith(("http://", "https://")) and ('href="' in cleaned or 'src="' in cleaned):
        absolute, recheck = _absolutize(cleaned, base_url)
        # Joined onto an http(s) base, a link is http(s) and escaped as the cleaner would: only an odd result
        # (which should not happen) goes through the cleaner again.
        cleaned = _CLEANER.clean(absolute).strip() if recheck else absolute
    return cleaned


def html_to_paragraphs(clean_html: str, *, keep_headings: bool = False) -> list[str]:
    """Plain-text paragraphs of sanitized HTML: one per block element, whitespace collapsed, headings dropped."""
    if not clean_html:
        return []
    text = clean_html
    # Headings are rare in feed items: skip that scan when there are none.
    if not keep_headings and ("<h" in text or "<H" in text):
        text = _HEADING.sub("\n\n", text)
    text = _BREAK.sub("\n", text)
    text = htmllib.unescape(_TAG.sub("", _BLOCK.sub("\n\n", text)))
    paragraphs = []
    for block in _PARAGRAPH_BREAK.split(text):
        joined = _collapse_spaces(block.replace("\n", " "))
        if joined:
            paragraphs.append(joined)
    return paragraphs


def _collapse_spaces(text: str) -> str:
    if text.isascii() and "  " not in text and "\t" not in text and "\r" not in text and "\f" not in text \
            and "\v" not in text:
        return text.strip()  # nothing for the substitution to do (the common case): skip its scan
    return _SPACES.sub(" ", text).strip()


def strip_tags(fragment: str) -> str:
    """One line of plain text from a bit of (possibly unsafe) HTML, such as a feed title."""
    if "<" not in fragment and "&" not in fragment:
        return _collapse_spaces(fragment)
    safe = _TEXT_CLEANER.clean(fragment)
    return _SPACES.sub(" ", htmllib.unescape(safe)).replace("\n", " ").strip()
