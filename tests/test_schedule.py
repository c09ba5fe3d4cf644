"""The schedule: exactly one issue per slot, whatever the clock, restarts or mistakes do.

Fire times come from the real APScheduler CronTrigger (get_next_fire_time, the way
its scheduler computes them) and are fed to the slot logic as a controllable clock:
no test sleeps through real minutes. Delivery runs in outbox mode; each test counts
the .eml files per recipient.
"""

from __future__ import annotations

import email
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from click.testing import CliRunner

from digest import pipeline, schedule, storage
from digest.cli import main
from digest.errors import ConfigError, ScheduleError
from digest.models import FeedState
from digest.storage import articles as article_store
from digest.storage import runs as run_store

from .conftest import make_article

UTC = timezone.utc
NEW_YORK = "America/New_York"
DIGEST_BIN = str(Path(sys.executable).parent / "digest")
SYLLABLES = ("ka ro mi zu te va lo ne qui bar sen dor fal gri hom jex lun mor pav rik sot tum vel wix yar "
             "zen bre clo dru fen glo").split()


def made_up_word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def add_news(conn: storage.Connection, when: datetime, count: int, tag: str) -> None:
    """`count` unrelated articles published just before `when`, each on its own made-up event."""
    rng = random.Random(tag)
    articles = []
    for i in range(count):
        words = [made_up_word(rng) for _ in range(30)]
        title = f"{words[0].title()} {words[1]} {words[2]} {words[3]}"
        text = "\n\n".join(
            " ".join(words[(k * 6 + j) % 30] for j in range(9)).capitalize() + f" {rng.randint(10, 999)}."
            for k in range(5))
        published = when - timedelta(minutes=30 + i)
        articles.append(make_article(id=f"{tag}-{i}", url=f"https://news{i}.example.com/{tag}/{i}", title=title,
                                     source=f"Outlet {i}", text=text, published=published, fetched_at=published))
    article_store.save_articles(conn, articles, now=when)


def delivered(config) -> dict[str, int]:
    """Messages in the outbox, per recipient."""
    counts: dict[str, int] = {}
    folder = config.path(config.delivery.outbox_dir)
    for path in sorted(folder.rglob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        counts[message["To"]] = counts.get(message["To"], 0) + 1
    return counts


@pytest.fixture
def sched_config(make_config):
    def make(*, cron: str = "0 7 * * *", tz: str = "UTC", **schedule_keys):
        return make_config(
            digest={"timezone": tz, "lookback_hours": 24},
            schedule={"cron": cron, **schedule_keys},
            subscribers=[{"email": "ada@example.com", "first_name": "Ada"}],
        )

    return make


def run_at_fire_times(config, conn, fires: list[datetime], *, delay=timedelta(seconds=2)) -> list[str]:
    """Wake the issue job at each fire time (a little after it, as the scheduler does); the outcomes."""
    outcomes = []
    for fire in fires:
        add_news(conn, fire, 3, tag=fire.astimezone(UTC).strftime("%Y%m%d%H%M"))
        result = schedule.run_due(config, conn, now=fire.astimezone(UTC) + delay)
        outcomes.append(f"{result.key} {result.outcome}")
    return outcomes


def test_autumn_repeated_hour_fires_twice_but_one_issue_goes_out(sched_config):
    config = sched_config(cron="30 1 * * *", tz=NEW_YORK)
    conn = storage.connect(config.db_path)
    tz = config.tz
    fires = schedule.fire_times(schedule.make_trigger(config), datetime(2025, 11, 1, tzinfo=tz),
                                datetime(2025, 11, 3, 12, tzinfo=tz))

    # The trap: APScheduler 3.x fires at 01:30 EDT and again at 01:30 EST on 2 November.
    assert [f.astimezone(UTC).isoformat() for f in fires] == [
        "2025-11-01T05:30:00+00:00", "2025-11-02T05:30:00+00:00",
        "2025-11-02T06:30:00+00:00", "2025-11-03T06:30:00+00:00",
    ]
    assert run_at_fire_times(config, conn, fires) == [
        "2025-11-01 sent", "2025-11-02 sent", "2025-11-02 done", "2025-11-03 sent"]
    assert delivered(config) == {"Ada <ada@example.com>": 3}
    assert len(run_store.runs_for_slot(conn, "2025-11-02")) == 1


def test_spring_missing_hour_still_sends_the_issue_once(sched_config):
    config = sched_config(cron="30 2 * * *", tz=NEW_YORK)
    conn = storage.connect(config.db_path)
    tz = config.tz
    fires = schedule.fire_times(schedule.make_trigger(config), datetime(2025, 3, 8, tzinfo=tz),
                                datetime(2025, 3, 10, 12, tzinfo=tz))

    # 02:30 does not exist on 9 March: the trigger fires at 07:30 UTC (03:30 EDT) instead.
    assert [f.astimezone(UTC).isoformat() for f in fires] == [
        "2025-03-08T07:30:00+00:00", "2025-03-09T07:30:00+00:00", "2025-03-10T06:30:00+00:00"]
    assert run_at_fire_times(config, conn, fires) == ["2025-03-08 sent", "2025-03-09 sent", "2025-03-10 sent"]
    assert delivered(config) == {"Ada <ada@example.com>": 3}


def test_second_trigger_for_the_same_slot_does_nothing(sched_config):
    config = sched_config()
    conn = storage.connect(config.db_path)
    at = datetime(2025, 1, 29, 7, 0, 5, tzinfo=UTC)
    add_news(conn, at, 3, "jan29")

    first = pipeline.run(config, conn, now=at)
    second = pipeline.run(config, conn, now=at + timedelta(hours=3))

    assert (first.outcome, second.outcome) == ("sent", "done")
    assert second.reason == "slot 2025-01-29 is already sent"
    assert [s.name for s in first.stages] == ["ingest", "build", "send"]
    assert second.stages == ()
    assert delivered(config) == {"Ada <ada@example.com>": 1}


def test_restart_within_grace_runs_the_missed_slot_late(sched_config):
    config = sched_config(grace_hours=6.0)
    conn = storage.connect(config.db_path)
    add_news(conn, datetime(2025, 1, 29, 7, tzinfo=UTC), 3, "late")

    result = schedule.run_due(config, conn, now=datetime(2025, 1, 29, 10, 30, tzinfo=UTC), trigger="catch-up")

    assert (result.key, result.outcome) == ("2025-01-29", "sent")
    slot = run_store.slot(conn, "2025-01-29")
    assert slot.status == "sent"
    assert slot.scheduled_for == datetime(2025, 1, 29, 7, tzinfo=UTC)
    assert run_store.runs_for_slot(conn, "2025-01-29")[0].trigger == "catch-up"
    assert delivered(config) == {"Ada <ada@example.com>": 1}


def test_restart_beyond_grace_records_the_slot_as_skipped_and_sends_nothing(sched_config):
    config = sched_config(grace_hours=6.0)
    conn = storage.connect(config.db_path)
    add_news(conn, datetime(2025, 1, 29, 7, tzinfo=UTC), 3, "toolate")

    result = schedule.run_due(config, conn, now=datetime(2025, 1, 29, 13, 30, tzinfo=UTC))

    assert (result.key, result.outcome) == ("2025-01-29", "skipped")
    slot = run_store.slot(conn, "2025-01-29")
    assert slot.status == "skipped"
    assert slot.reason == ("missed: due 2025-01-29T07:00:00+00:00, 6.5 h ago, beyond [schedule].grace_hours = 6")
    assert delivered(config) == {}
    # The next day runs as usual.
    add_news(conn, datetime(2025, 1, 30, 7, tzinfo=UTC), 3, "nextday")
    assert schedule.run_due(config, conn, now=datetime(2025, 1, 30, 7, 0, 1, tzinfo=UTC)).outcome == "sent"


def test_too_little_news_skips_the_slot_with_the_reason(sched_config):
    config = sched_config(min_new_stories=5)
    conn = storage.connect(config.db_path)
    at = datetime(2025, 1, 29, 7, tzinfo=UTC)
    add_news(conn, at, 2, "quiet")

    result = pipeline.run(config, conn, now=at)

    assert result.outcome == "skipped"
    assert result.reason == "2 new stories, fewer than [schedule].min_new_stories = 5; nothing sent"
    assert [s.name for s in result.stages] == ["ingest", "build"]
    assert run_store.slot(conn, "2025-01-29").status == "skipped"
    assert delivered(config) == {}
    # What a skipped slot held was never told: it still counts as new the next day.
    add_news(conn, datetime(2025, 1, 30, 5, tzinfo=UTC), 3, "busier")
    assert pipeline.run(config, conn, now=datetime(2025, 1, 30, 5, tzinfo=UTC)).stage("build").counts == {
        "stories": 5, "quick_hits": 0, "new_stories": 5}


def test_stop_while_sending_finishes_the_message_in_flight_and_the_next_run_sends_the_rest(make_config):
    config = make_config(subscribers=[{"email": f"reader{i}@example.com"} for i in range(4)])
    conn = storage.connect(config.db_path)
    at = datetime(2025, 1, 29, 7, tzinfo=UTC)
    add_news(conn, at, 3, "stop")
    stop = threading.Event()


    def stop_after_the_first_message(report) -> None:
        if report.sent >= 1:
            stop.set()

    first = pipeline.run(config, conn, now=at, stop=stop, on_progress=stop_after_the_first_message)

    assert first.outcome == "interrupted"
    assert first.reason == "stopped while sending; the next run sends to those left"
    assert run_store.slot(conn, "2025-01-29").status == "built"
    sent_first = sum(delivered(config).values())
    assert 1 <= sent_first < 4

    second = pipeline.run(config, conn, now=at + timedelta(minutes=5))

    assert second.outcome == "sent"
    assert [s.name for s in second.stages] == ["send"]  # resumed: not rebuilt
    assert delivered(config) == {f"reader{i}@example.com": 1 for i in range(4)}


def test_one_structured_log_line_per_stage(sched_config, caplog):
    config = sched_config()
    conn = storage.connect(config.db_path)
    at = datetime(2025, 1, 29, 7, tzinfo=UTC)
    add_news(conn, at, 3, "logs")

    with caplog.at_level(logging.INFO, logger="digest.pipeline"):
        result = pipeline.run(config, conn, now=at)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stage=") and " run=" in r.getMessage()]
    prefixes = [" ".join(line.split()[:4]) for line in lines]
    assert prefixes == [
        f"stage=ingest slot=2025-01-29 run={result.run_id} ok=true",
        f"stage=build slot=2025-01-29 run={result.run_id} ok=true",
        f"stage=send slot=2025-01-29 run={result.run_id} ok=true",
        f"stage=run slot=2025-01-29 run={result.run_id} outcome=sent",
    ]
    assert "new_stories=3" in lines[1]
    stored = run_store.runs_for_slot(conn, "2025-01-29")[0]
    assert [s["name"] for s in stored.stages] == ["ingest", "build", "send"]
    assert stored.stages[1]["counts"]["new_stories"] == 3


def test_a_claim_left_by_a_dead_process_is_taken_over_and_a_live_one_is_not(db):
    now = datetime(2025, 1, 29, 7, tzinfo=UTC)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = run_store.Owner(run_store.Owner.current().host, int(gone.stdout))
    assert run_store.claim_slot(db, "2025-01-29", now=now, owner=dead).action == "build"

    assert run_store.claim_slot(db, "2025-01-29", now=now).action == "build"  # the owner is gone: retake
    assert run_store.claim_slot(db, "2025-01-29", now=now, owner=dead).action == "busy"  # we are alive


def test_cron_weekday_numbers_mean_what_crontab_says():
    monday = datetime(2025, 1, 6, tzinfo=UTC)
    weekdays = schedule.fire_times(schedule.cron_trigger("0 7 * * 1-5", "UTC"), monday, monday + timedelta(days=7))
    sundays = schedule.fire_times(schedule.cron_trigger("0 7 * * 0", "UTC"), monday, monday + timedelta(days=7))

    sunday_to_thursday = schedule.fire_times(schedule.cron_trigger("0 7 * * 0-4", "UTC"), monday,
                                             monday + timedelta(days=7))

    assert [f.strftime("%a") for f in weekdays] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert [f.strftime("%a %d") for f in sundays] == ["Sun 12"]
    assert [f.strftime("%a") for f in sunday_to_thursday] == ["Mon", "Tue", "Wed", "Thu", "Sun"]


def test_a_bad_cron_expression_is_rejected_at_load(make_config):
    with pytest.raises(ConfigError) as caught:
        make_config(schedule={"cron": "61 7 * * *"})
    assert str(caught.value) == ("config.toml: [schedule].cron: Error validating expression '61': the last value (61) "
                                 "is higher than the maximum value (59) in '61 7 * * *'")


def test_the_lock_refuses_a_second_scheduler_in_one_line(config):
    path = schedule.lock_path(config)
    with schedule.SchedulerLock(path):
        with pytest.raises(ScheduleError) as caught:
            schedule.SchedulerLock(path).acquire()
        assert schedule.running_scheduler_pid(config) == os.getpid()
    assert str(caught.value) == (f"another `digest schedule` (pid {os.getpid()}) is already running for this "
                                 f"database; lock {path}")
    assert schedule.running_scheduler_pid(config) is None


def _wait_for(events: dict[str, threading.Event], name: str) -> None:
    assert events[name].wait(60), f"APScheduler never reported {name}"


def _listen(service: schedule.DigestScheduler) -> dict[str, threading.Event]:
    events = {"executed": threading.Event(), "missed": threading.Event(), "error": threading.Event()}
    names = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "error"}
    service.scheduler.add_listener(lambda e: events[names[e.code]].set(),
                                   EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    return events


def _stored_job_missed_by(config, hours: float) -> datetime:
    """Run a scheduler once so the job is in the store, then move its next run into the past (the machine was off)."""
    service = schedule.DigestScheduler(config, threading.Event())
    service.start()
    service.shutdown()
    # Edit the stored job through the job store alone: a running scheduler loop would run it at once.
    store = SQLAlchemyJobStore(url=f"sqlite:///{config.db_path}")
    store.start(BackgroundScheduler(timezone=config.tz), "default")
    job = store.lookup_job(schedule.ISSUE_JOB_ID)
    missed = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)
    job.next_run_time = missed
    store.update_job(job)
    store.shutdown()
    return missed


def test_a_restarted_scheduler_replays_the_run_missed_while_down(sched_config):
    fired = datetime.now(UTC) - timedelta(hours=2)
    config = sched_config(cron=f"{fired.minute} {fired.hour} * * *", grace_hours=6.0)
    conn = storage.connect(config.db_path)
    add_news(conn, datetime.now(UTC), 3, "replay")
    _stored_job_missed_by(config, 2)

    service = schedule.DigestScheduler(config, threading.Event())
    events = _listen(service)
    job_store_grace = None
    try:
        service.start()
        job_store_grace = service.scheduler.get_job(schedule.ISSUE_JOB_ID).misfire_grace_time
        _wait_for(events, "executed")
    finally:
        service.shutdown()

    assert job_store_grace == 6 * 3600
    key = pipeline.issue_key(config, fired)
    assert run_store.slot(conn, key).status == "sent"
    assert delivered(config) == {"Ada <ada@example.com>": 1}


def test_a_restarted_scheduler_records_a_run_missed_beyond_grace(sched_config):
    fired = datetime.now(UTC) - timedelta(hours=3)
    config = sched_config(cron=f"{fired.minute} {fired.hour} * * *", grace_hours=1.0)
    conn = storage.connect(config.db_path)
    missed = _stored_job_missed_by(config, 3)

    service = schedule.DigestScheduler(config, threading.Event())
    events = _listen(service)
    try:
        service.start()
        _wait_for(events, "missed")
    finally:
        service.shutdown()

    slot = run_store.slot(conn, pipeline.issue_key(config, missed))
    assert slot.status == "skipped"
    assert slot.reason.startswith(f"missed: due {missed.isoformat()}, 3.0 h ago")
    assert delivered(config) == {}


def _write_config(tmp_path: Path) -> Path:
    # A fire time 12 hours away, so starting the scheduler has nothing to catch up.
    later = datetime.now(UTC) + timedelta(hours=12)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\npath = "var/digest.sqlite3"\n\n[schedule]\ncron = "{later.minute} {later.hour} * * *"\n'
        f'grace_hours = 1.0\n', encoding="utf-8")
    return path


def test_two_schedulers_started_by_mistake_the_second_refuses_and_sigterm_stops_the_first(tmp_path):
    config_path = _write_config(tmp_path)
    first = subprocess.Popen([DIGEST_BIN, "--config", str(config_path), "schedule"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = first.stdout.readline()
        assert banner.startswith("Scheduler running: cron "), banner + first.stderr.read()

        second = subprocess.run([DIGEST_BIN, "--config", str(config_path), "schedule"], capture_output=True,
                                text=True, timeout=60)

        lock = tmp_path / "var" / "digest.sqlite3.schedule.lock"
        assert second.returncode == 1
        assert second.stderr == (f"Error: another `digest schedule` (pid {first.pid}) is already running for this "
                                 f"database; lock {lock}\n")
        status = CliRunner().invoke(main, ["--config", str(config_path), "status"])
        assert f"Scheduler: running, pid {first.pid}" in status.output
    finally:
        first.send_signal(signal.SIGTERM)
        out, _err = first.communicate(timeout=60)
    assert first.returncode == 0
    assert out.endswith("Scheduler stopped.\n")
    status = CliRunner().invoke(main, ["--config", str(config_path), "status"])
    assert "Scheduler: not running" in status.output


def test_status_shows_next_run_last_runs_failing_feeds_and_deliveries(sched_config):
    config = sched_config()
    conn = storage.connect(config.db_path)
    at = datetime(2025, 1, 29, 7, tzinfo=UTC)
    add_news(conn, at, 3, "status")
    article_store.save_feed_state(conn, FeedState(source="Flaky Wire", url="https://flaky.example.com/rss",
                                                  last_fetched=at, last_status="error",
                                                  last_error="HTTP 503 Service Unavailable"))
    pipeline.run(config, conn, now=at)
    config_file = config.base_dir / "config.toml"
    config_file.write_text('[storage]\npath = "var/test.sqlite3"\n\n[[subscribers]]\nemail = "ada@example.com"\n',
                           encoding="utf-8")

    result = CliRunner().invoke(main, ["--config", str(config_file), "status"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Scheduler: not running"
    assert lines[1].startswith("Next issue: ") and "cron '0 7 * * *' in UTC; grace 6 h" in lines[1]
    run_line = next(line for line in lines if " 2025-01-29 " in line and " manual " in line)
    assert " sent " in run_line and "ingest" in run_line and "send" in run_line
    assert "  Flaky Wire  last fetch 2025-01-29 07:00  HTTP 503 Service Unavailable" in lines
    deliveries = lines[lines.index("Deliveries:"):]
    assert deliveries[1:3] == ["  subscribers: 1 active, 0 unsubscribed, 0 bounced", "  2025-01-29  sent     1 sent"]


def test_a_slot_left_half_sent_and_not_resumed_within_grace_is_marked_failed(sched_config):
    config = sched_config(grace_hours=2.0)
    conn = storage.connect(config.db_path)
    fire = datetime(2025, 1, 29, 7, tzinfo=UTC)
    run_store.claim_slot(conn, "2025-01-29", now=fire, scheduled_for=fire)
    run_store.mark_built(conn, "2025-01-29", now=fire)
    run_store.release_slot(conn, "2025-01-29", now=fire, reason="stopped while sending; the next run sends to those left")

    result = schedule.run_due(config, conn, now=fire + timedelta(hours=5))

    assert result.outcome == "failed"
    assert run_store.slot(conn, "2025-01-29").reason == (
        "built, not finished within [schedule].grace_hours: stopped while sending; the next run sends to those left")


def test_the_ingest_interval_job_follows_the_config_across_restarts(sched_config):
    hourly = sched_config(ingest_interval_minutes=60)
    service = schedule.DigestScheduler(hourly, threading.Event())
    service.start()
    job = service.scheduler.get_job(schedule.INGEST_JOB_ID)
    interval = job.trigger.interval
    service.shutdown()
    assert interval == timedelta(hours=1)

    service = schedule.DigestScheduler(sched_config(ingest_interval_minutes=0), threading.Event())
    service.start()
    jobs = sorted(j.id for j in service.scheduler.get_jobs())
    service.shutdown()
    assert jobs == ["issue"]


def _cli_config(tmp_path: Path, extra: str = "") -> Path:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    sources = "".join(f'[[sources]]\nname = "Sample {i}"\nurl = "{p}"\n\n'
                      for i, p in enumerate(sorted(seeds.glob("*.txt")), start=1))
    path = tmp_path / "config.toml"
    path.write_text('[digest]\nlookback_hours = 1000000\n\n[storage]\npath = "var/digest.sqlite3"\n\n'
                    + sources + extra, encoding="utf-8")
    return path


def _outcome_line(output: str) -> str:
    """The `Issue <key>: ...` line of `digest run`'s output (where-to-look lines follow it)."""
    return next(line for line in output.splitlines() if line.startswith("Issue "))


def test_digest_run_sends_todays_issue_once_and_a_second_run_does_nothing(tmp_path):
    config_path = _cli_config(tmp_path, '[[subscribers]]\nemail = "ada@example.com"\n')
    today = datetime.now(UTC).date().isoformat()

    first = CliRunner().invoke(main, ["--config", str(config_path), "run"])
    second = CliRunner().invoke(main, ["--config", str(config_path), "run"])

    assert first.exit_code == 0, first.output
    assert [line.split()[0] for line in first.output.splitlines()[:3]] == ["ingest", "build", "send"]
    assert _outcome_line(first.output) == f"Issue {today}: sent."
    assert f"  open:     {(tmp_path / 'out' / today / 'index.html').as_uri()}" in first.output.splitlines()
    assert second.output.splitlines()[0] == f"Issue {today}: nothing to do: slot {today} is already sent."
    assert len(list((tmp_path / "var" / "outbox").rglob("*.eml"))) == 1


def test_sigterm_during_digest_run_lets_the_message_in_flight_finish_and_the_next_run_sends_the_rest(tmp_path):
    from .smtp_servers import start_server

    record = tmp_path / "received.jsonl"
    smtp = start_server(record, "--tls", "none", "--data-delay", "0.4")
    readers = [f"reader{i}@example.com" for i in range(6)]
    try:
        config_path = _cli_config(tmp_path, f'[delivery]\nmode = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\n'
                                             f'port = {smtp.port}\nsecurity = "none"\npool_size = 1\n\n'
                                  + "".join(f'[[subscribers]]\nemail = "{r}"\n\n' for r in readers))
        run = subprocess.Popen([DIGEST_BIN, "--config", str(config_path), "run"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        while not smtp.messages() and run.poll() is None:  # until the first message is accepted
            threading.Event().wait(0.05)
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)

        assert run.returncode == 0, err
        assert _outcome_line(out).endswith(": stopped while sending; the next run sends to those left.")
        partial = smtp.received_counts()
        assert 1 <= sum(partial.values()) < len(readers)
        assert set(partial.values()) == {1}

        again = subprocess.run([DIGEST_BIN, "--config", str(config_path), "run"], capture_output=True, text=True,
                               timeout=120)
        assert again.returncode == 0, again.stderr
        assert _outcome_line(again.stdout).endswith(": sent.")
        assert smtp.received_counts() == {r: 1 for r in readers}
    finally:
        smtp.stop()


def test_a_slot_whose_send_failed_is_retried_later_and_only_resends(sched_config, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: the relay is down
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    fired = datetime.now(UTC) - timedelta(minutes=30)
    config = sched_config(cron=f"{fired.minute} {fired.hour} * * *")
    down = replace(config, delivery=replace(config.delivery, mode="smtp"),
                   smtp=replace(config.smtp, port=dead_port, security="none", max_retries=0, timeout_seconds=2))
    conn = storage.connect(config.db_path)
    add_news(conn, datetime.now(UTC), 3, "retry")
    service = schedule.DigestScheduler(down, threading.Event())
    service.start()
    try:
        result = service.run_issue()
        retry = service.scheduler.get_job(schedule.RETRY_JOB_ID)
    finally:
        service.shutdown()

    assert result.outcome == "failed" and result.reason.startswith("send: ")
    assert retry is not None
    assert timedelta(minutes=14) < retry.next_run_time - datetime.now(UTC) <= timedelta(minutes=15)
    # The relay is back (here: the outbox): the retry sends the issue already built, without rebuilding it.
    again = schedule.run_due(config, conn)
    assert (again.outcome, [s.name for s in again.stages]) == ("sent", ["send"])
    assert delivered(config) == {"Ada <ada@example.com>": 1}


def test_a_restart_catches_up_the_run_missed_while_down_before_the_jobs_run(sched_config):
    fired = datetime.now(UTC) - timedelta(hours=2)
    config = sched_config(cron=f"{fired.minute} {fired.hour} * * *", grace_hours=6.0)
    conn = storage.connect(config.db_path)
    add_news(conn, datetime.now(UTC), 3, "catchup")
    key = pipeline.issue_key(config, fired)

    first_start = schedule.DigestScheduler(config, threading.Event())
    assert first_start.start(catch_up=True) is None  # a fresh install has missed nothing
    first_start.shutdown()
    assert run_store.slot(conn, key) is None
    _stored_job_missed_by(config, 2)  # then the machine was off at the fire time

    restart = schedule.DigestScheduler(config, threading.Event())
    caught_up = restart.start(catch_up=True)
    restart.shutdown()
    assert (caught_up.key, caught_up.outcome) == (key, "sent")
    assert [r.trigger for r in run_store.runs_for_slot(conn, key)] == ["catch-up"]
    assert delivered(config) == {"Ada <ada@example.com>": 1}


def test_a_restart_resumes_a_send_that_a_stop_cut_short(make_config):
    fired = datetime.now(UTC) - timedelta(minutes=20)
    config = make_config(schedule={"cron": f"{fired.minute} {fired.hour} * * *"},
                         subscribers=[{"email": f"reader{i}@example.com"} for i in range(3)])
    conn = storage.connect(config.db_path)
    add_news(conn, datetime.now(UTC), 3, "resume")
    stop = threading.Event()
    cut = pipeline.run(config, conn, stop=stop, scheduled_for=fired,
                       on_progress=lambda report: report.sent >= 1 and stop.set())
    assert cut.outcome == "interrupted"

    restart = schedule.DigestScheduler(config, threading.Event())
    caught_up = restart.start(catch_up=True)
    restart.shutdown()
    assert (caught_up.outcome, [s.name for s in caught_up.stages]) == ("sent", ["send"])
    assert delivered(config) == {f"reader{i}@example.com": 1 for i in range(3)}


def test_digest_run_reports_a_failed_stage_as_one_error_line_and_exit_code_1(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: the relay is down
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    config_path = _cli_config(tmp_path, f'[delivery]\nmode = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\nport = {dead_port}\n'
                                        'security = "none"\nmax_retries = 0\ntimeout_seconds = 2\n\n'
                                        '[[subscribers]]\nemail = "ada@example.com"\n')

    result = CliRunner().invoke(main, ["--config", str(config_path), "run"])

    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: issue {datetime.now(UTC).date()} failed: send: ")
    status = CliRunner().invoke(main, ["--config", str(config_path), "status"])
    assert " failed " in next(line for line in status.output.splitlines() if " manual " in line)


def test_a_run_that_comes_due_as_the_scheduler_stops_is_kept_for_the_next_start(sched_config):
    config = sched_config()
    service = schedule.DigestScheduler(config, threading.Event())
    service.start()
    service.scheduler.pause()  # hold the loop while the run comes due
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    service.scheduler.modify_job(schedule.ISSUE_JOB_ID, next_run_time=due)

    service.shutdown()  # APScheduler's last look at the jobs would move the due run to tomorrow

    store = SQLAlchemyJobStore(url=f"sqlite:///{config.db_path}")
    store.start(BackgroundScheduler(timezone=config.tz), "default")
    kept = store.lookup_job(schedule.ISSUE_JOB_ID).next_run_time
    store.shutdown()
    assert kept == due


def test_sigterm_stops_digest_schedule_mid_send_and_the_next_start_sends_the_rest(tmp_path):
    from digest.config import load_config

    from .smtp_servers import start_server

    record = tmp_path / "received.jsonl"
    smtp = start_server(record, "--tls", "none", "--data-delay", "0.4")
    readers = [f"reader{i}@example.com" for i in range(5)]
    fired = datetime.now(UTC) - timedelta(hours=1)
    try:
        config_path = _cli_config(tmp_path, f'[schedule]\ncron = "{fired.minute} {fired.hour} * * *"\n\n'
                                            f'[delivery]\nmode = "smtp"\n\n[smtp]\nhost = "127.0.0.1"\n'
                                            f'port = {smtp.port}\nsecurity = "none"\npool_size = 1\n\n'
                                  + "".join(f'[[subscribers]]\nemail = "{r}"\n\n' for r in readers))
        _stored_job_missed_by(load_config(config_path), 1)  # the scheduler ran before; it was down at the fire time
        command = [DIGEST_BIN, "--config", str(config_path), "schedule"]
        unbuffered = {**os.environ, "PYTHONUNBUFFERED": "1"}

        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=unbuffered)
        while not smtp.messages() and first.poll() is None:  # catching up: the first message is accepted
            threading.Event().wait(0.05)
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert out == "Scheduler stopped.\n"
        assert 1 <= sum(smtp.received_counts().values()) < len(readers)

        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=unbuffered)
        banner = second.stdout.readline()  # printed once the catch-up is done and the jobs run
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
        assert banner.startswith("Scheduler running: "), banner
        assert smtp.received_counts() == {r: 1 for r in readers}
        status = CliRunner().invoke(main, ["--config", str(config_path), "status"]).output
        assert [line.split()[5] for line in status.splitlines() if " catch-up " in line] == ["sent", "interrupted"]
    finally:
        smtp.stop()
