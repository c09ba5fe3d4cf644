"""Render stage (placeholder until issue 5 lands): plain text only."""

from __future__ import annotations

import json
from pathlib import Path

from .config import DigestSection, RenderSection
from .models import Issue, RenderedIssue

PLACEHOLDERS = {
    "greeting_name": "[[digest:greeting_name]]",
    "unsubscribe_url": "[[digest:unsubscribe_url]]",
    "preferences_url": "[[digest:preferences_url]]",
}


def render_issue(issue: Issue, *, digest: DigestSection, settings: RenderSection, templates_dir: Path) -> RenderedIssue:
    """Render an issue once, leaving per-subscriber placeholders in the email parts."""
    lines = [issue.title, issue.date.isoformat(), "", issue.headline, ""]
    for s in issue.stories:
        lines += [s.headline, s.rundown, *[f"- {p.text}" for p in s.details], ""]
    text = "\n".join(lines)
    payload = json.dumps({"key": issue.key, "headline": issue.headline}, indent=2)
    return RenderedIssue(issue=issue, archive_html=f"<pre>{text}</pre>", email_html=f"<pre>{text}</pre>",
                         text=text, mjml="", json=payload)


def write_issue(rendered: RenderedIssue, out_dir: Path) -> Path:
    """Write the issue's files to out_dir/<key>/ and return that folder."""
    folder = out_dir / rendered.issue.key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(rendered.archive_html, encoding="utf-8")
    (folder / "email.html").write_text(rendered.email_html, encoding="utf-8")
    (folder / "digest.txt").write_text(rendered.text, encoding="utf-8")
    (folder / "digest.json").write_text(rendered.json, encoding="utf-8")
    (folder / "digest.mjml").write_text(rendered.mjml, encoding="utf-8")
    return folder
