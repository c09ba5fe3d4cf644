"""What the templates see: an Issue turned into plain view objects.

Links are decided here, not in templates: only http(s) URLs are ever linked
(an article read from a local file has a file:// URL, which means nothing
in a subscriber's inbox), so a template never has to check a scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ..config import DigestSection, RenderSection
from ..models import Issue, Summary

PLACEHOLDERS = {
    "greeting_name": "[[digest:greeting_name]]",
    "unsubscribe_url": "[[digest:unsubscribe_url]]",
    "preferences_url": "[[digest:preferences_url]]",
}
GREETING_FALLBACK = "readers"  # "Good morning, readers." when a subscriber has no first name
SUBTITLE_MAX_CHARS = 200
PREHEADER_MAX_CHARS = 140
POWERED_BY_URL = "https://github.com/digest-newsletter/digest"
MUTED_COLOR = "#6b7280"  # gray with 4.8:1 contrast on white, readable on dark too
CARD_COLOR = "#ffffff"
DARK_BACKGROUND = "#111827"
DARK_CARD = "#1f2937"
DARK_TEXT = "#e5e7eb"


@dataclass(frozen=True)
class SourceView:
    """One outlet on a *Sources:* line; `url` is None when it is not an http(s) link."""

    name: str
    url: str | None


@dataclass(frozen=True)
class StoryView:
    """One story as the templates show it."""

    number: int
    kicker: str
    headline: str
    url: str | None  # the first outlet's http(s) link, for the headline
    rundown: str
    details: tuple[str, ...]
    why_it_matters: str | None
    sources: tuple[SourceView, ...]


@dataclass(frozen=True)
class ShareLink:
    label: str
    url: str


@dataclass(frozen=True)
class Colors:
    accent: str
    text: str
    background: str
    muted: str = MUTED_COLOR
    card: str = CARD_COLOR
    dark_background: str = DARK_BACKGROUND
    dark_card: str = DARK_CARD
    dark_text: str = DARK_TEXT
    dark_accent: str = ""


def is_web_url(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(("http://", "https://"))


def archive_base(settings: RenderSection) -> str:
    return settings.archive_url.rstrip("/")


def issue_url(settings: RenderSection, key: str) -> str:
    """The web-archive address of one issue ("Read Online")."""
    return f"{archive_base(settings)}/{quote(key)}/"


def date_label(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def clip(text: str, limit: int) -> str:
    """Cut `text` at a word boundary so it fits `limit` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.-")
    return cut + "…"


def lighten(color: str, amount: float) -> str:
    """Mix a #rrggbb color with white (amount 0..1): the accent for links on a dark background."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(c + (255 - c) * amount) for c in rgb]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def source_views(summary: Summary) -> tuple[SourceView, ...]:
    """One entry per outlet, in the story's order, linked to its first http(s) article."""
    by_name: dict[str, str | None] = {}
    for ref in summary.story.sources:
        if ref.name not in by_name or (by_name[ref.name] is None and is_web_url(ref.url)):
            by_name[ref.name] = ref.url if is_web_url(ref.url) else None
    return tuple(SourceView(name, url) for name, url in by_name.items())


def story_view(summary: Summary, number: int) -> StoryView:
    sources = source_views(summary)
    kicker = summary.kicker.strip() or ", ".join(s.name for s in sources)
    return StoryView(
        number=number,
        kicker=kicker,
        headline=summary.headline,
        url=next((s.url for s in sources if s.url), None),
        rundown=summary.rundown,
        details=tuple(p.text for p in summary.details),
        why_it_matters=summary.why_it_matters or None,
        sources=sources,
    )


def share_links(url: str, headline: str) -> tuple[ShareLink, ...]:
    u, t = quote(url, safe=""), quote(headline, safe="")
    return (
        ShareLink("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
        ShareLink("X", f"https://twitter.com/intent/tweet?url={u}&text={t}"),
        ShareLink("Threads", f"https://www.threads.net/intent/post?text={t}%20{u}"),
        ShareLink("LinkedIn", f"https://www.linkedin.com/sharing/share-offsite/?url={u}"),
    )


def build_context(issue: Issue, *, digest: DigestSection, settings: RenderSection) -> dict[str, Any]:
    """Everything the email, text and archive templates may use."""
    read_online = issue_url(settings, issue.key)
    subtitle = clip(issue.subtitle, SUBTITLE_MAX_CHARS) if issue.subtitle else ""
    return {
        "issue": issue,
        "title": issue.title,
        "tagline": digest.tagline,
        "headline": issue.headline,
        "subtitle": subtitle,
        "preheader": clip(subtitle or digest.tagline, PREHEADER_MAX_CHARS),
        "date_label": date_label(issue.date),
        "year": issue.date.year,
        "language": settings.language,
        "read_online_url": read_online,
        "archive_url": archive_base(settings) + "/",
        "share_links": share_links(read_online, issue.headline) if settings.share_links else (),
        "sponsor": settings.sponsor if settings.sponsor.enabled else None,
        "settings": settings,
        "logo_url": settings.logo_url,
        "sender_name": settings.sender_name,
        "postal_address": settings.postal_address,
        "powered_by_url": POWERED_BY_URL,
        "colors": Colors(accent=settings.accent_color, text=settings.text_color,
                         background=settings.background_color, dark_accent=lighten(settings.accent_color, 0.55)),
        "stories": [story_view(s, i) for i, s in enumerate(issue.stories, start=1)],
        "quick_hits": [story_view(s, i) for i, s in enumerate(issue.quick_hits, start=len(issue.stories) + 1)],
        # Markup: a template prints these tokens as they are; delivery replaces them per subscriber.
        "placeholders": {name: Markup(token) for name, token in PLACEHOLDERS.items()},
    }
