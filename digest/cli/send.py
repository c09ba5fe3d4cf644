"""`digest send` (deliver the built issue) and `digest serve` (the unsubscribe pages)."""

from __future__ import annotations

import sys
import threading

import click

from .. import pipeline
from ..deliver import SendReport
from ..serve import serve as serve_pages
from . import main
from .context import AppContext, pass_app, stop_on_signals


class _Progress:
    """A running count on a terminal, a line every 10% otherwise."""

    def __init__(self, app: AppContext) -> None:
        self.app = app
        self.tty = sys.stderr.isatty()
        self.next_mark = 0

    def __call__(self, report: SendReport) -> None:
        if self.app.quiet or report.total == 0:
            return
        line = (f"{report.done}/{report.total} done: sent {report.sent}, retried {report.retried}, "
                f"failed {report.failed}, skipped {report.skipped}")
        if self.tty:
            click.echo(f"\r{line}", nl=False, err=True)
        elif report.done >= self.next_mark or report.done == report.total:
            click.echo(line, err=True)
            self.next_mark = report.done + max(1, report.total // 10)

    def close(self) -> None:
        if self.tty and not self.app.quiet:
            click.echo("", err=True)


@main.command()
@click.option("--issue", "issue_key", default=None, metavar="KEY", help="The issue to send (default: today's).")
@click.option("--resend-uncertain", is_flag=True,
              help="Also send to those a killed run may already have reached (at least once for them).")
@pass_app
def send(app: AppContext, issue_key: str | None, resend_uncertain: bool) -> None:
    """Deliver a built issue to every active subscriber who has not had it yet.

    [delivery].mode decides: "outbox" writes one .eml per subscriber to
    var/outbox/, "smtp" sends through [smtp]. Safe to re-run or to restart
    after a crash: a send log makes sure nobody gets it twice. Ctrl-C stops
    after the messages in flight; the next `digest send` sends the rest.

    \b
    Example:
        digest build && digest send
        digest send --issue 2025-01-29
    """
    stop = threading.Event()
    progress = _Progress(app)
    with stop_on_signals(stop):
        try:
            report = pipeline.send(app.config, app.conn, issue_key=issue_key, stop=stop, on_progress=progress,
                                   resend_uncertain=resend_uncertain)
        finally:
            progress.close()
    app.echo(report.summary())
    for email, error in report.failures:
        click.echo(f"  {email}: {error}", err=True)
    if report.mode == "outbox" and report.sent:
        app.echo(f"messages in {app.config.path(app.config.delivery.outbox_dir)}")


@main.command()
@pass_app
def serve(app: AppContext) -> None:
    """Serve the one-click unsubscribe and preferences pages linked from every message.

    Listens on [serve].host:port (127.0.0.1:8026 by default). Put it behind
    your HTTPS proxy at [delivery].unsubscribe_url.

    \b
    Example:
        digest serve
    """
    stop = threading.Event()
    with stop_on_signals(stop):
        serve_pages(app.config, app.conn, stop=stop,
                    on_ready=lambda url: app.echo(f"unsubscribe pages on {url}unsubscribe (Ctrl-C to stop)"))
