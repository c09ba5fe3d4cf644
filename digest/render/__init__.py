"""Render stage: an Issue -> MJML (Jinja2) -> responsive HTML, a plain-text twin, JSON, web archive.

An issue is rendered ONCE. The email parts keep per-subscriber placeholders
(``[[digest:NAME]]``, see `PLACEHOLDERS`) that delivery fills by plain
substitution with `fill_placeholders`, which HTML-escapes every value for the
HTML part (a first name like ``<b>Ann`` must not become markup). The web
archive copy is the same HTML with the placeholders filled with public values:
the greeting fallback and the archive's address, so it holds no personal data
and no unsubscribe token.

Templates come from `templates/` in the project; a user's folder
(``[render].templates_dir``) is searched first, so any partial can be
overridden by a file of the same name. Every feed string is autoescaped in
the MJML and HTML templates; the ``*.txt.j2`` twins are plain text.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from mjml import mjml2html

from ..config import DigestSection, RenderSection
from ..errors import RenderError
from ..models import Issue, RenderedIssue, Summary
from .context import GREETING_FALLBACK, PLACEHOLDERS, archive_base, build_context, clip, date_label
from .text import rule, tidy, wrap

__all__ = [
    "GREETING_FALLBACK", "GMAIL_CLIP_BYTES", "PLACEHOLDERS", "ArchiveEntry", "BUILTIN_TEMPLATES", "compile_mjml",
    "fill_placeholders", "issue_json", "render_archive", "render_issue", "write_archive", "write_issue",
]

BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
EMAIL_TEMPLATE = "email.mjml.j2"
TEXT_TEMPLATE = "email.txt.j2"
ARCHIVE_TEMPLATE = "archive.html.j2"
GMAIL_CLIP_BYTES = 102_000  # Gmail hides the rest of a larger HTML body behind "[Message clipped]"
ISSUE_FILES = ("index.html", "email.html", "digest.txt", "digest.json", "digest.mjml")

_TOKEN = re.compile(r"\[\[digest:([a-z_]+)\]\]")
# MJML's <mj-preview> renders its text white-on-white (color:#ffffff), which spam filters
# score as hidden text. Our templates write their own preheader; this defuses a user's mj-preview.
_MJML_PREVIEW_COLOR = re.compile(r'(<div style="display:none;font-size:1px;)color:#ffffff;')

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveEntry:
    """One past issue on the archive page (out/index.html)."""

    key: str
    date: date
    headline: str
    subtitle: str = ""


def render_issue(issue: Issue, *, digest: DigestSection, settings: RenderSection,
                 templates_dir: Path | None) -> RenderedIssue:
    """Render an issue once: email HTML and text with placeholders, the archive copy, MJML and JSON."""
    env = _environment(_user_dir(templates_dir))
    context = build_context(issue, digest=digest, settings=settings)
    mjml_source = _render(env, EMAIL_TEMPLATE, context)
    email_html = compile_mjml(mjml_source, EMAIL_TEMPLATE)
    text = tidy(_render(env, TEXT_TEMPLATE, context))
    size = len(email_html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        log.warning("issue=%s html_bytes=%d: over %d, Gmail will clip it", issue.key, size, GMAIL_CLIP_BYTES)
    archive_home = archive_base(settings) + "/"
    archive_html = fill_placeholders(
        email_html,
        {"greeting_name": GREETING_FALLBACK, "unsubscribe_url": archive_home, "preferences_url": archive_home},
        is_html=True,
    )
    return RenderedIssue(issue=issue, archive_html=archive_html, email_html=email_html, text=text,
                         mjml=mjml_source, json=issue_json(issue))


def fill_placeholders(template: str, values: Mapping[str, str], *, is_html: bool) -> str:
    """Replace every ``[[digest:NAME]]`` token; values are HTML-escaped when `is_html`.

    `values` must hold every name of `PLACEHOLDERS` (greeting_name is the first
    name, or `GREETING_FALLBACK`). This is the whole of personalization: no re-render.
    """
    missing = sorted(set(PLACEHOLDERS) - set(values))
    if missing:
        raise RenderError(f"no value for placeholder(s): {', '.join(missing)}")
    escaped = {k: html.escape(v, quote=True) if is_html else v for k, v in values.items()}
    return _TOKEN.sub(lambda m: escaped.get(m.group(1), m.group(0)), template)


def compile_mjml(source: str, name: str = "<mjml>") -> str:
    """MJML -> HTML with mjml-python; RenderError names the template when it does not compile."""
    try:
        # fonts={}: no Google Fonts <link> for a font named in the stack (a remote fetch, a privacy leak).
        out = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"{name}: MJML did not compile: {exc}") from exc
    return _MJML_PREVIEW_COLOR.sub(r"\1", out)


def issue_json(issue: Issue) -> str:
    """digest.json: the issue's stories in rank order, with their points and sources."""
    stories = [_story_json(s, rank) for rank, s in enumerate(issue.stories, start=1)]
    hits = [_story_json(s, rank) for rank, s in enumerate(issue.quick_hits, start=len(stories) + 1)]
    payload = {
        "key": issue.key, "date": issue.date.isoformat(), "title": issue.title,
        "headline": issue.headline, "subtitle": issue.subtitle, "stories": stories, "quick_hits": hits,
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _story_json(s: Summary, rank: int) -> dict[str, Any]:
    merged = sorted({dup for dups in s.story.aliases.values() for dup in dups})
    return {
        "rank": rank,
        "id": s.story.id,
        "score": s.score,
        "kicker": s.kicker,
        "headline": s.headline,
        "rundown": s.rundown,
        "details": [{"text": p.text, "score": p.score, "source_ids": list(p.article_ids)} for p in s.details],
        "why_it_matters": s.why_it_matters,
        "sources": [
            {"id": r.article_id, "name": r.name, "url": r.url,
             "published": r.published.isoformat() if r.published else None}
            for r in s.story.sources
        ],
        "article_ids": [a.id for a in s.story.articles],
        "merged_article_ids": merged,
        "update_of": s.story.update_of,
    }


def write_issue(rendered: RenderedIssue, out_dir: Path) -> Path:
    """Write out_dir/<key>/ (index.html, email.html, digest.txt, digest.json, digest.mjml); return it."""
    folder = Path(out_dir) / rendered.issue.key
    contents = (rendered.archive_html, rendered.email_html, rendered.text, rendered.json, rendered.mjml)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in zip(ISSUE_FILES, contents):
            _write_atomic(folder / name, body)
    except OSError as exc:
        raise RenderError(f"{folder}: cannot write the issue: {exc}") from exc
    return folder


def render_archive(entries: Sequence[ArchiveEntry], *, digest: DigestSection, settings: RenderSection,
                   templates_dir: Path | None) -> str:
    """The archive page: every issue, newest first, linked by relative path (works from file:// too)."""
    env = _environment(_user_dir(templates_dir))
    ordered = sorted(entries, key=lambda e: e.key, reverse=True)
    context = {
        "title": digest.title, "tagline": digest.tagline, "language": settings.language,
        "entries": ordered, "date_label": date_label, "settings": settings,
        "sender_name": settings.sender_name, "postal_address": settings.postal_address,
    }
    return _render(env, ARCHIVE_TEMPLATE, context)


def write_archive(page: str, out_dir: Path) -> Path:
    """Write out_dir/index.html; return its path."""
    path = Path(out_dir) / "index.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, page)
    except OSError as exc:
        raise RenderError(f"{path}: cannot write the archive page: {exc}") from exc
    return path


def _write_atomic(path: Path, body: str) -> None:
    # The preview server may be reading the old file: replace it whole, never half-written.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)


def _user_dir(templates_dir: Path | None) -> str | None:
    if templates_dir is None:
        return None
    folder = Path(templates_dir).resolve()
    if folder == BUILTIN_TEMPLATES:
        return None
    if not folder.is_dir():
        raise RenderError(f"[render].templates_dir: {folder}: no such folder")
    return str(folder)


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith(".txt.j2")


def _neutralize(value: Any) -> Any:
    # A feed string that spells a placeholder token must not be filled per subscriber:
    # a zero-width space breaks the token. Our own tokens are Markup and pass untouched.
    if isinstance(value, str) and not isinstance(value, Markup) and "[[digest:" in value:
        return value.replace("[[digest:", "[\u200b[digest:")
    return value


@functools.lru_cache(maxsize=8)
def _environment(user_dir: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(BUILTIN_TEMPLATES))]
    if user_dir:
        loaders.insert(0, jinja2.FileSystemLoader(user_dir))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders), autoescape=_autoescape, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, finalize=_neutralize,
    )
    env.filters.update(wrap=wrap, clip=clip)
    env.globals.update(rule=rule)
    return env


def _render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template not found: {exc.name}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"{name}: {exc}") from exc
