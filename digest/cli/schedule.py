"""`digest run`, `digest schedule` and `digest status`."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import click

from .. import pipeline, schedule
from ..errors import DigestError
from ..storage import articles as article_store
from ..storage import runs as run_store
from ..storage import sendlog
from ..storage import subscribers as subscriber_store
from . import main
from .build import where_to_look
from .context import AppContext, format_table, format_when, pass_app, stop_on_signals


def _stage_line(stage: pipeline.StageOutcome) -> str:
    counts = " ".join(f"{k}={v}" for k, v in stage.counts.items())
    status = "ok" if stage.ok else f"FAILED: {stage.error}"
    return f"  {stage.name:<7} {stage.seconds:8.2f} s  {counts}  {status}".rstrip()


@main.command("run")
@pass_app
def run_command(app: AppContext) -> None:
    """Ingest, build today's issue and deliver it, once, now (for cron users).

    One issue per date in [digest].timezone: a second `digest run` the same day
    does nothing. With fewer than [schedule].min_new_stories new stories the day
    is recorded as skipped and nothing is sent. SIGTERM or Ctrl-C lets the
    message in flight finish; the next `digest run` sends to those left.

    \b
    Example (crontab, every day at 07:00):
        0 7 * * *  cd /srv/digest && .venv/bin/digest run
    """
    stop = threading.Event()
    with stop_on_signals(stop):
        result = pipeline.run(app.config, app.conn, stop=stop, trigger="manual")
    for stage in result.stages:
        app.echo(_stage_line(stage))
    if result.outcome == pipeline.RUN_FAILED:
        raise DigestError(f"issue {result.key} failed: {result.reason}")
    messages = {
        pipeline.RUN_SENT: f"Issue {result.key}: sent.",
        pipeline.RUN_SKIPPED: f"Issue {result.key}: skipped: {result.reason}.",
        pipeline.RUN_DONE: f"Issue {result.key}: nothing to do: {result.reason}.",
        pipeline.RUN_BUSY: f"Issue {result.key}: nothing to do: {result.reason}.",
        pipeline.RUN_INTERRUPTED: f"Issue {result.key}: {result.reason}.",
    }
    app.echo(messages[result.outcome])
    if (app.config.output_dir / result.key / "index.html").exists():
        for line in where_to_look(app.config, result.key):
            app.echo(line)


@main.command("schedule")
@pass_app
def schedule_command(app: AppContext) -> None:
    """Run the pipeline at [schedule].cron, in the foreground, until SIGTERM or Ctrl-C.

    Holds a lock next to the database: a second `digest schedule` refuses to
    start. On start it catches up a slot missed within [schedule].grace_hours
    or left half sent. Jobs live in the database (APScheduler job store).

    \b
    Example:
        digest -v schedule        # logs one line per stage per run to stderr
    """
    config = app.config
    stop = threading.Event()

    def started(service: schedule.DigestScheduler) -> None:
        when = service.next_run_time()
        app.echo(f"Scheduler running: cron {config.schedule.cron!r} in {config.digest.timezone}; next issue "
                 f"{when.isoformat() if when else 'never'}. SIGTERM or Ctrl-C stops it.")

    with stop_on_signals(stop):
        schedule.serve(config, stop, on_started=started)
    app.echo("Scheduler stopped.")


@main.command("status")
@click.option("--runs", "limit", default=10, show_default=True, help="How many recent runs to show.")
@pass_app
def status_command(app: AppContext, limit: int) -> None:
    """Show the next run time, the last runs and their outcome, failing feeds and delivery counts.

    \b
    Example:
        digest status --runs 5
    """
    config, conn = app.config, app.conn
    now = datetime.now(timezone.utc)
    pid = schedule.running_scheduler_pid(config)
    nxt = schedule.next_fire_time(config, now)
    click.echo(f"Scheduler: {'running, pid ' + str(pid) if pid else 'not running'}")
    if nxt:
        minutes = int((nxt - now).total_seconds() // 60)
        local = f"{nxt.astimezone(config.tz).strftime('%Y-%m-%d %H:%M %Z')} (in {minutes // 60} h {minutes % 60} min)"
    else:
        local = "never"
    click.echo(f"Next issue: {local}, cron {config.schedule.cron!r} in {config.digest.timezone}; "
               f"grace {config.schedule.grace_hours:g} h; at least {config.schedule.min_new_stories} new stories")

    click.echo("\nLast runs:")
    runs = run_store.recent_runs(conn, limit)
    if runs:
        rows = [("RUN", "SLOT", "TRIGGER", "STARTED (UTC)", "OUTCOME", "STAGES", "REASON")]
        for r in runs:
            stages = ", ".join(f"{s['name']} {s['seconds']:.1f}s" + ("" if s["ok"] else " FAILED") for s in r.stages)
            rows.append((str(r.id), r.slot_key, r.trigger, format_when(r.started_at), r.outcome or "running",
                         stages or "-", r.reason or ""))
        for line in format_table(rows):
            click.echo("  " + line)
    else:
        click.echo("  none yet")

    open_slots = run_store.unfinished_slots(conn)
    if open_slots:
        click.echo("\nUnfinished issues (resumed by the next run within grace_hours of their time):")
        for s in open_slots:
            click.echo(f"  {s.key}  {s.status}  {s.reason or ''}".rstrip())

    click.echo("\nFailing feeds:")
    failing = [st for st in article_store.feed_states(conn).values() if st.last_status == "error"]
    for st in sorted(failing, key=lambda st: st.source):
        click.echo(f"  {st.source}  last fetch {format_when(st.last_fetched)}  {st.last_error or ''}".rstrip())
    if not failing:
        click.echo("  none")

    click.echo("\nDeliveries:")
    subscribers = subscriber_store.count_by_status(conn)
    click.echo("  subscribers: " + ", ".join(f"{n} {status}" for status, n in subscribers.items()))
    for slot in run_store.recent_slots(conn, limit):
        counts = sendlog.counts(conn, slot.key)
        sent = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing sent"
        click.echo(f"  {slot.key}  {slot.status:<8} {sent}" + (f"  ({slot.reason})" if slot.reason else ""))
