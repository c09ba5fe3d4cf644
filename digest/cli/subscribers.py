"""`digest subscribers add|remove|list|import|export`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import InputError
from ..storage import subscribers as subscriber_store
from . import main
from .context import AppContext, format_table, format_when, pass_app


@main.group()
def subscribers() -> None:
    """Manage the subscribers kept in the SQLite store.

    \b
    Example:
        digest subscribers add ada@example.com --name Ada
        digest subscribers import people.csv && digest subscribers list
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--name", "first_name", default=None, help="First name, used in the greeting.")
@click.option("--resubscribe", is_flag=True, help="Make an unsubscribed or bounced address active again.")
@pass_app
def add(app: AppContext, email: str, first_name: str | None, resubscribe: bool) -> None:
    """Add one subscriber (the address is validated; case does not make a second one).

    \b
    Example:
        digest subscribers add ada@example.com --name Ada
    """
    record, created = subscriber_store.add_subscriber(app.conn, email, first_name, reason="added by operator")
    sub = record.subscriber
    if created:
        app.echo(f"added {sub.email}")
        return
    if sub.status != "active" and resubscribe:
        subscriber_store.set_status(app.conn, sub.id, "active", "resubscribed by operator")
        app.echo(f"{sub.email} is active again")
        return
    if sub.status != "active":
        raise InputError(f"{sub.email} is {sub.status} since {record.status_at:%Y-%m-%d %H:%M} "
                         f"({record.status_reason}); pass --resubscribe only if they asked")
    app.echo(f"{sub.email} is already subscribed")


@subscribers.command("remove")
@click.argument("email")
@click.option("--reason", default="removed by operator", show_default=True, help="Recorded with the change.")
@pass_app
def remove(app: AppContext, email: str, reason: str) -> None:
    """Unsubscribe an address (kept as unsubscribed, so it is never mailed again).

    \b
    Example:
        digest subscribers remove ada@example.com --reason "asked by email"
    """
    record = subscriber_store.find_subscriber(app.conn, subscriber_store.normalize_email(email))
    if record is None:
        raise InputError(f"{email}: no such subscriber")
    if subscriber_store.set_status(app.conn, record.subscriber.id, "unsubscribed", reason):
        app.echo(f"unsubscribed {record.email}")
    else:
        app.echo(f"{record.email} was already unsubscribed")


@subscribers.command("list")
@click.option("--status", type=click.Choice(subscriber_store.STATUSES), default=None, help="Only this status.")
@pass_app
def list_(app: AppContext, status: str | None) -> None:
    """List subscribers with their status and when and why it last changed.

    \b
    Example:
        digest subscribers list --status bounced
    """
    records = subscriber_store.list_subscribers(app.conn, status)
    rows = [("EMAIL", "NAME", "STATUS", "SINCE (UTC)", "REASON")]
    rows += [(r.email, r.subscriber.first_name or "", r.subscriber.status, format_when(r.status_at),
              r.status_reason) for r in records]
    for line in format_table(rows):
        click.echo(line)
    counts = subscriber_store.count_by_status(app.conn)
    app.echo(", ".join(f"{n} {s}" for s, n in counts.items()))


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def import_(app: AppContext, csv_file: Path) -> None:
    """Add the rows of a CSV file: email[,first_name], header row optional.

    Each bad row is reported with its line number; the others are imported.

    \b
    Example:
        digest subscribers import people.csv
    """
    report = subscriber_store.import_csv(app.conn, csv_file)
    for line, problem in report.errors:
        click.echo(f"{csv_file}:{line}: {problem}", err=True)
    app.echo(f"{report.added} added, {report.existing} already there, {len(report.errors)} rejected")


@subscribers.command("export")
@click.option("--status", type=click.Choice(subscriber_store.STATUSES), default=None, help="Only this status.")
@pass_app
def export(app: AppContext, status: str | None) -> None:
    """Write all subscribers as CSV to stdout (email, first_name, status, status_at, status_reason).

    \b
    Example:
        digest subscribers export > subscribers.csv
    """
    sys.stdout.write(subscriber_store.export_csv(subscriber_store.list_subscribers(app.conn, status)))
