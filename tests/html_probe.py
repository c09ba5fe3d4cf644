"""Read rendered HTML the way a reader sees it: visible text and links (for render tests)."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

_INVISIBLE = {"head", "style", "script", "title"}
_BLOCK = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "tr", "td", "br", "table", "section"}


@dataclass(frozen=True)
class Link:
    href: str
    text: str


class _Probe(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[Link] = []
        self.tags: list[str] = []
        self._skip = 0
        self._hidden = 0
        self._href: str | None = None
        self._link_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag in _INVISIBLE:
            self._skip += 1
        if tag == "div" and "display:none" in (attrs.get("style") or "").replace(" ", ""):
            self._hidden += 1
        elif tag == "div" and self._hidden:
            self._hidden += 1
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag == "a":
            self._href, self._link_text = attrs.get("href") or "", []

    def handle_endtag(self, tag):
        if tag in _INVISIBLE and self._skip:
            self._skip -= 1
        if tag == "div" and self._hidden:
            self._hidden -= 1
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag == "a" and self._href is not None:
            self.links.append(Link(self._href, " ".join("".join(self._link_text).split())))
            self._href = None

    def handle_data(self, data):
        if self._skip or self._hidden:
            return
        self.parts.append(data)
        if self._href is not None:
            self._link_text.append(data)


def probe(html: str) -> _Probe:
    p = _Probe()
    p.feed(html)
    p.close()
    return p


def visible_text(html: str) -> str:
    """The text a reader sees, one block per line, spaces collapsed (no head, no hidden preheader)."""
    lines = (" ".join(line.split()) for line in "".join(probe(html).parts).splitlines())
    return "\n".join(line for line in lines if line)


def links(html: str) -> list[Link]:
    return probe(html).links
