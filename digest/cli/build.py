"""`digest build`: render today's issue into the output folder."""

from __future__ import annotations

import click

from .. import pipeline
from ..config import Config
from . import main
from .context import AppContext, pass_app


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the issue's digest.json to stdout instead.")
@pass_app
def build(app: AppContext, as_json: bool) -> None:
    """Build today's issue from the stored articles into out/<date>/.

    Writes index.html (web archive copy), email.html and digest.txt (with
    per-subscriber placeholders), digest.json and digest.mjml, and refreshes
    out/index.html, the list of all issues. Run `digest ingest` first to fetch.

    \b
    Example:
        digest ingest && digest build
        digest build --json | jq '.stories[].headline'
    """
    result = pipeline.build(app.config, app.conn)
    if as_json:
        click.echo(result.rendered.json, nl=False)
        return
    issue = result.rendered.issue
    app.echo(f"Built issue {issue.key}: {len(issue.stories)} stories, {len(issue.quick_hits)} quick hits.")
    app.echo(f"  headline: {issue.headline}")
    for line in where_to_look(app.config, issue.key):
        app.echo(line)


def where_to_look(config: Config, key: str) -> list[str]:
    """The lines that tell a person where an issue's files are and how to see them."""
    folder = (config.output_dir / key).resolve()
    lines = [
        f"  folder:   {folder}",
        f"  open:     {(folder / 'index.html').as_uri()}",
        f"  text:     {folder / 'digest.txt'}",
        f"  archive:  {(folder.parent / 'index.html').as_uri()}",
    ]
    if config.delivery.mode == "outbox":
        lines.append(f"  outbox:   {config.path(config.delivery.outbox_dir).resolve()}  (one .eml per subscriber)")
    lines.append("  preview:  digest preview   (the email, text part, headers and stories in your browser)")
    return lines
