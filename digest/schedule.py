"""The scheduler: APScheduler 3.x jobs that call `pipeline.run`, one issue per slot.

`serve()` is `digest schedule`: it takes a lock next to the database (a second
scheduler refuses to start), starts a BackgroundScheduler with a persistent
SQLAlchemyJobStore in the same SQLite file, catches up a slot missed while it
was down (within [schedule].grace_hours) before its jobs run, and runs until
asked to stop.

Exactly-once does not rest on APScheduler: its CronTrigger fires twice in the
autumn hour that happens twice, and a restart can replay a missed run. Every
trigger goes through `run_due()`, which maps the latest fire time to its slot
key and lets `pipeline.run` claim it in SQLite, so extra triggers do nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import pipeline, storage
from .config import Config, ScheduleSection
from .errors import ConfigError, ScheduleError
from .locks import FileLock, holder_pid
from .storage import runs as run_store

log = logging.getLogger(__name__)

ISSUE_JOB_ID = "issue"
INGEST_JOB_ID = "ingest"
RETRY_JOB_ID = "issue-retry"
RETRY_AFTER = timedelta(minutes=15)  # a failed slot is tried again this much later, within its grace window
LOCK_SUFFIX = ".schedule.lock"
# How far back a wake-up looks for the fire time it belongs to, beyond the grace window:
# a day, so a start after a long downtime finds the last slot it missed and records it as skipped.
MISSED_LOOKBACK = timedelta(hours=25)

# APScheduler pickles jobs into the job store, so a job names its service by id;
# the live objects (config, stop event) stay in this process, in this registry.
_SERVICES: dict[str, DigestScheduler] = {}


def make_trigger(config: Config) -> CronTrigger:
    """The issue trigger: [schedule].cron in [digest].timezone, with crontab's weekday numbers."""
    return cron_trigger(config.schedule.cron, config.digest.timezone)


def cron_trigger(expression: str, tz: str) -> CronTrigger:
    """A CronTrigger from a crontab line; weekday numbers mean what they mean in crontab (0 = Sunday)."""
    if len(expression.split()) != 5:
        raise ConfigError(f"[schedule].cron: expected 5 fields (minute hour day month weekday), got {expression!r}")
    try:
        return CronTrigger.from_crontab(ScheduleSection(cron=expression).apscheduler_cron, timezone=tz)
    except ValueError as exc:
        raise ConfigError(f"[schedule].cron: {exc} in {expression!r}") from None


def _after(moment: datetime) -> datetime:
    # One second later in absolute time; adding to a local time would lose the DST fold.
    return moment.astimezone(timezone.utc) + timedelta(seconds=1)


def fire_times(trigger: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """The fire times in [start, end] as APScheduler's scheduler computes them, repeats included."""
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= end:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, _after(fire))
    return times


def previous_fire_time(trigger: CronTrigger, now: datetime, window: timedelta) -> datetime | None:
    """The latest fire time at or before `now`, looking back at most `window`."""
    times = fire_times(trigger, now - window, now)
    return times[-1] if times else None


def next_fire_time(config: Config, now: datetime | None = None) -> datetime | None:
    now = now or datetime.now(timezone.utc)
    return make_trigger(config).get_next_fire_time(None, now)


def run_due(
    config: Config,
    conn: storage.Connection,
    *,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    trigger: str = "schedule",
) -> pipeline.RunResult | None:
    """What the issue job does when it wakes: run the slot of the latest fire time, once.

    Late by less than [schedule].grace_hours: the slot runs now (or resumes what it
    left unsent). Later than that: it is recorded as skipped, with the reason, and
    nothing is sent. A slot already sent or skipped is left alone. None when no
    fire time is near (nothing was due).
    """
    now = now or datetime.now(timezone.utc)
    grace = timedelta(hours=config.schedule.grace_hours)
    fire = previous_fire_time(make_trigger(config), now, grace + MISSED_LOOKBACK)
    if fire is None:
        log.debug("stage=schedule outcome=idle: no fire time in the last %s", grace + MISSED_LOOKBACK)
        return None
    late = now - fire
    if late > grace:
        return record_missed(config, conn, fire, now=now)
    return pipeline.run(config, conn, now=now, stop=stop, scheduled_for=fire, trigger=trigger)


def record_missed(config: Config, conn: storage.Connection, fire: datetime, *, now: datetime) -> pipeline.RunResult:
    """A slot whose fire time passed more than grace_hours ago: record it as skipped, send nothing."""
    key = pipeline.issue_key(config, fire)
    hours = (now - fire).total_seconds() / 3600
    reason = (f"missed: due {fire.isoformat()}, {hours:.1f} h ago, beyond [schedule].grace_hours = "
              f"{config.schedule.grace_hours:g}")
    if run_store.record_missed(conn, key, now=now, scheduled_for=fire, reason=reason):
        log.warning("stage=schedule slot=%s outcome=skipped reason=%r", key, reason)
        return pipeline.RunResult(key, pipeline.RUN_SKIPPED, reason)
    existing = run_store.slot(conn, key)
    if existing.status in run_store.FINAL or existing.is_active:
        return pipeline.RunResult(key, pipeline.RUN_DONE, f"slot {key} is already {existing.status}")
    # Left half done (stopped, crashed) and now too late to finish: say so instead of leaving it "built".
    reason = f"{existing.status}, not finished within [schedule].grace_hours: {existing.reason or 'no reason recorded'}"
    run_store.finish_slot(conn, key, run_store.FAILED, now=now, reason=reason)
    log.warning("stage=schedule slot=%s outcome=failed reason=%r", key, reason)
    return pipeline.RunResult(key, pipeline.RUN_FAILED, reason)


# --- the lock: one `digest schedule` per database ---

def lock_path(config: Config) -> Path:
    return Path(str(config.db_path) + LOCK_SUFFIX)


class SchedulerLock(FileLock):
    """One `digest schedule` per database; a second one is refused, naming the pid that holds the lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, lambda pid: ScheduleError(
            f"another `digest schedule` (pid {pid or '?'}) is already running for this database; lock {path}"))


def running_scheduler_pid(config: Config) -> int | None:
    """The pid of the `digest schedule` holding the lock, or None when none runs."""
    return holder_pid(lock_path(config))


# --- the long-lived scheduler ---

def _issue_job(service_id: str) -> None:
    service = _SERVICES.get(service_id)
    if service is None:
        log.warning("stage=schedule job=issue: no live scheduler %r in this process; skipped", service_id)
        return
    service.run_issue()


def _ingest_job(service_id: str) -> None:
    service = _SERVICES.get(service_id)
    if service is not None:
        service.run_ingest()


@dataclass
class DigestScheduler:
    """APScheduler's BackgroundScheduler with our jobs, job store and misfire policy."""

    config: Config
    stop: threading.Event

    def __post_init__(self) -> None:
        self.id = str(self.config.db_path)
        self.grace_seconds = max(1, int(self.config.schedule.grace_hours * 3600))
        self.scheduler = BackgroundScheduler(
            timezone=self.config.tz,
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{self.config.db_path}")},
            # One worker: an ingest job and the issue job never write the store at once.
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            # APScheduler's default grace of 1 s would silently drop a slot after any delay;
            # coalesce turns a backlog (the machine was off for days) into one run.
            job_defaults={"coalesce": True, "misfire_grace_time": self.grace_seconds, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)

    def start(self, *, catch_up: bool = False) -> pipeline.RunResult | None:
        """Start the jobs; a job kept in the store keeps its next run time (a missed run is replayed).

        catch_up: before the jobs run, run the slot of the latest fire time when the stored
        job's run came due while we were down, or a slot was left unfinished (stopped,
        crashed): within the grace window it runs or resumes, beyond it it is recorded.
        """
        _SERVICES[self.id] = self
        storage.connect(self.config.db_path).close()  # create and migrate the file the job store shares
        self.scheduler.start(paused=True)
        trigger = make_trigger(self.config)
        job = self.scheduler.get_job(ISSUE_JOB_ID)
        caught_up = None
        if catch_up:
            conn = storage.connect(self.config.db_path)
            try:
                # Due: the stored job's next run passed while we were down. Unfinished: a run was cut short.
                is_due = job is not None and job.next_run_time is not None and \
                    job.next_run_time <= datetime.now(timezone.utc)
                if is_due or run_store.unfinished_slots(conn):
                    caught_up = run_due(self.config, conn, stop=self.stop, trigger="catch-up")
            finally:
                conn.close()
            if caught_up is not None:
                log.info("stage=schedule catch-up slot=%s outcome=%s", caught_up.key, caught_up.outcome)
            if self.stop.is_set():
                return caught_up
        if job is None or repr(job.trigger) != repr(trigger):
            self.scheduler.add_job(_issue_job, trigger, args=[self.id], id=ISSUE_JOB_ID, name="daily issue",
                                   replace_existing=True)
        else:
            job.modify(args=[self.id], coalesce=True, misfire_grace_time=self.grace_seconds, max_instances=1)
        minutes = self.config.schedule.ingest_interval_minutes
        if minutes:
            self.scheduler.add_job(_ingest_job, IntervalTrigger(minutes=minutes, timezone=self.config.tz),
                                   args=[self.id], id=INGEST_JOB_ID, name="ingest", replace_existing=True,
                                   misfire_grace_time=max(1, minutes * 30))
        elif self.scheduler.get_job(INGEST_JOB_ID):
            self.scheduler.remove_job(INGEST_JOB_ID)
        self.scheduler.resume()
        log.info("stage=schedule outcome=started cron=%r timezone=%s next_issue=%s ingest_every_minutes=%d",
                 self.config.schedule.cron, self.config.digest.timezone, self.next_run_time(), minutes)
        return caught_up

    def next_run_time(self) -> datetime | None:
        job = self.scheduler.get_job(ISSUE_JOB_ID)
        return job.next_run_time if job else None

    def shutdown(self) -> None:
        """Wait for the job in flight (it sees `stop` and ends after the message in flight), then stop."""
        self.stop.set()
        if self.scheduler.running:
            job = self.scheduler.get_job(ISSUE_JOB_ID)
            pending = job.next_run_time if job else None
            self.scheduler.shutdown(wait=True)
            # APScheduler 3.x looks for due jobs once more after shutdown (and while it waits for the
            # job in flight): a run due then fails to submit but its next run time moves on, so the
            # next start would not replay it. Put it back; a replay of a slot already done is a no-op.
            if pending is not None and pending <= datetime.now(timezone.utc):
                self._store_next_run_time(pending)
        _SERVICES.pop(self.id, None)
        log.info("stage=schedule outcome=stopped")

    def _store_next_run_time(self, when: datetime) -> None:
        store = SQLAlchemyJobStore(url=f"sqlite:///{self.config.db_path}")
        store.start(BackgroundScheduler(timezone=self.config.tz), "default")
        try:
            job = store.lookup_job(ISSUE_JOB_ID)
            if job is not None and (job.next_run_time is None or job.next_run_time > when):
                job.next_run_time = when
                store.update_job(job)
        finally:
            store.shutdown()

    def run_issue(self) -> pipeline.RunResult | None:
        """The issue job. The only place that catches every Exception: log it, keep the scheduler alive.

        A failed slot (the relay was down, a feed broke the build) is tried again every
        RETRY_AFTER while its grace window lasts; a slot already built only resends.
        """
        conn = storage.connect(self.config.db_path)
        result = None
        try:
            result = run_due(self.config, conn, stop=self.stop)
        except Exception:
            log.exception("stage=schedule job=issue failed; the scheduler goes on")
        finally:
            conn.close()
        # Only a stage that failed is retried; a slot recorded as missed (no stages ran) is final.
        if result is not None and result.outcome == pipeline.RUN_FAILED and result.stages and not self.stop.is_set():
            when = datetime.now(timezone.utc) + RETRY_AFTER
            self.scheduler.add_job(_issue_job, DateTrigger(run_date=when), args=[self.id], id=RETRY_JOB_ID,
                                   name="issue retry", replace_existing=True)
            log.warning("stage=schedule slot=%s outcome=failed retry_at=%s", result.key,
                        when.isoformat(timespec="seconds"))
        return result

    def run_ingest(self) -> None:
        conn = storage.connect(self.config.db_path)
        try:
            report = pipeline.ingest(self.config, conn)
            log.info("stage=ingest trigger=interval sources=%d failed_sources=%d new=%d updated=%d",
                     len(report.results), len(report.failed), report.new, report.updated)
        except Exception:
            log.exception("stage=schedule job=ingest failed; the scheduler goes on")
        finally:
            conn.close()

    def _on_missed(self, event: JobExecutionEvent) -> None:
        if event.job_id != ISSUE_JOB_ID:
            return
        conn = storage.connect(self.config.db_path)
        try:
            record_missed(self.config, conn, event.scheduled_run_time, now=datetime.now(timezone.utc))
        finally:
            conn.close()


def serve(config: Config, stop: threading.Event, *, on_started=None) -> None:
    """`digest schedule`: lock, catch up a missed or interrupted slot, then run the jobs until `stop` is set."""
    with SchedulerLock(lock_path(config)):
        service = DigestScheduler(config, stop)
        try:
            service.start(catch_up=True)
            if stop.is_set():
                return
            if on_started is not None:
                on_started(service)
            while not stop.wait(1.0):
                pass
        finally:
            service.shutdown()
