"""The send loop: every active subscriber gets the issue once, through the outbox or the SMTP relay.

The send log (`digest.storage.sendlog`) is the truth. Before anything goes
out, every active subscriber gets a ``queued`` row; just before the final
"." of DATA the row becomes ``handed``; after the relay's 250 it becomes
``sent`` (written with the next ``handed`` commit). A restart (after Ctrl-C, a crash or ``kill -9``) sends the
``queued`` rows and turns ``handed`` ones into ``uncertain`` without resending
them: **at most once**. Nobody gets two copies; the one way to miss the
issue is a crash in the microseconds between committing ``handed`` and
writing those three bytes, and such a subscriber is listed as uncertain.

SMTP runs through a pool of `[smtp].pool_size` connections (one thread
each, reused for every message), paced by the per-second and per-hour caps.
A 4xx is retried with exponential backoff up to `[smtp].max_retries`; a 5xx
fails that recipient (bounced after `[delivery].bounce_after` of them); a
dropped connection is reopened and the message requeued.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Config
from ..errors import DeliveryError
from ..locks import FileLock
from ..models import Subscriber
from ..storage import Connection, sendlog
from ..storage import subscribers as subscriber_store
from .dkim import make_signer
from .message import IssueContent, MessageTemplate, OutgoingMessage
from .outbox import outbox_name, write_message
from .smtp import ConnectionLost, PermanentFailure, RateLimiter, RelayConnection, TemporaryFailure, tls_context
from .tokens import token_secret

log = logging.getLogger(__name__)

STOP_POLL_SECONDS = 0.2  # how often idle workers look at the stop event
INACTIVE_REFRESH_SECONDS = 0.5  # how stale the list of unsubscribed/bounced ids may be during a run


@dataclass
class SendReport:
    """What one `digest send` run did for one issue."""

    issue_key: str
    mode: str
    total: int = 0  # subscribers with a row in the send log for this issue
    sent: int = 0  # handed to the relay (or written to the outbox) by this run
    retried: int = 0  # 4xx replies and dropped connections that were retried
    failed: int = 0  # 5xx, or 4xx after the last retry, in this run
    skipped: int = 0  # already sent by an earlier run, or no longer active
    uncertain: int = 0  # a run died after handing the message over: not resent (at most once)
    bounced: int = 0  # subscribers marked bounced by this run
    reconnects: int = 0
    stopped: bool = False  # the stop event ended the run early; the rest stays queued
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reply)

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.uncertain

    def summary(self) -> str:
        return (f"issue {self.issue_key} ({self.mode}): sent {self.sent}, retried {self.retried}, "
                f"failed {self.failed}, skipped {self.skipped}, uncertain {self.uncertain}"
                + (f", bounced {self.bounced}" if self.bounced else "")
                + (" (stopped early; the rest stays queued)" if self.stopped else ""))


@dataclass(frozen=True)
class _Job:
    subscriber: Subscriber
    attempt: int = 0  # 4xx replies so far


class _JobQueue:
    """Jobs due now or later (backoff); `get` returns None once all are finished or on stop."""

    def __init__(self, jobs: list[_Job], stop: threading.Event) -> None:
        self._heap = [(0.0, i, job) for i, job in enumerate(jobs)]
        self._seq = len(jobs)
        self._outstanding = len(jobs)
        self._cond = threading.Condition()
        self._stop = stop

    def get(self) -> _Job | None:
        with self._cond:
            while True:
                if self._stop.is_set() or self._outstanding == 0:
                    return None
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    return heapq.heappop(self._heap)[2]
                wait = min(self._heap[0][0] - now, STOP_POLL_SECONDS) if self._heap else STOP_POLL_SECONDS
                self._cond.wait(wait)

    def retry(self, job: _Job, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, job))
            self._seq += 1
            self._cond.notify()

    def finish(self) -> None:
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()


class _Run:
    """State shared by the workers of one run: the log connection (under a lock) and the report."""

    def __init__(self, config: Config, conn: Connection, template: MessageTemplate, report: SendReport,
                 on_progress: Callable[[SendReport], None] | None) -> None:
        self.config = config
        self.conn = conn
        self.key = template.content.key
        self.template = template
        self.report = report
        self.on_progress = on_progress
        self.lock = threading.Lock()
        self.had_failures = subscriber_store.ids_with_failures(conn)
        self._inactive: set[int] = set()
        self._inactive_at = -INACTIVE_REFRESH_SECONDS
        self._unrecorded_sent: list[int] = []  # 250 received, "sent" not yet written (goes with the next commit)

    def is_active(self, subscriber_id: int) -> bool:
        """Still subscribed? Re-read at most every INACTIVE_REFRESH_SECONDS (one query for all)."""
        with self.lock:
            now = time.monotonic()
            if now - self._inactive_at >= INACTIVE_REFRESH_SECONDS:
                self._inactive = subscriber_store.inactive_ids(self.conn)
                self._inactive_at = now
            return subscriber_id not in self._inactive

    def handed(self, message: OutgoingMessage) -> None:
        """Commit "handed" for this message, with the "sent" of the messages finished since the last commit."""
        with self.lock:
            settled, self._unrecorded_sent = self._unrecorded_sent, []
            sendlog.mark_handed(self.conn, self.key, message.subscriber.id, message.message_id, sent=settled)

    def flush(self) -> None:
        with self.lock:
            settled, self._unrecorded_sent = self._unrecorded_sent, []
            sendlog.mark_sent(self.conn, self.key, settled)

    def outcome(self, job: _Job, status: str, error: str = "", *, permanent: bool = False,
                deferred: bool = False) -> None:
        """Record the end of a job; `status` is sent, failed, queued (a retry), uncertain or skipped.

        `deferred` (SMTP "sent" only) leaves the write to the next commit: a crash before it turns
        that row into "uncertain", never into a resend.
        """
        sub = job.subscriber
        with self.lock:
            if deferred:
                self._unrecorded_sent.append(sub.id)
            else:
                sendlog.mark(self.conn, self.key, sub.id, status, error)
            r = self.report
            if status == "sent":
                if sub.id in self.had_failures:
                    subscriber_store.record_success(self.conn, sub.id)
                r.sent += 1
            elif status == "queued":
                r.retried += 1
            elif status == "failed":
                r.failed += 1
                r.failures.append((sub.email, error))
                if permanent and subscriber_store.record_failure(self.conn, sub.id, error,
                                                                 bounce_after=self.config.delivery.bounce_after):
                    r.bounced += 1
            elif status == "uncertain":
                r.uncertain += 1
                r.failures.append((sub.email, error))
            elif status == "skipped":
                r.skipped += 1
            if self.on_progress is not None:
                self.on_progress(r)


def deliver_issue(config: Config, conn: Connection, content: IssueContent, *, stop: threading.Event | None = None,
                  on_progress: Callable[[SendReport], None] | None = None,
                  resend_uncertain: bool = False) -> SendReport:
    """Send `content` to every active subscriber who has not had it; see the module docstring."""
    stop = stop or threading.Event()
    mode = config.delivery.mode
    lock_path = config.db_path.with_name(config.db_path.name + ".send.lock")
    with FileLock(lock_path, lambda pid: DeliveryError(f"{lock_path}: another `digest send` is running")):
        key = content.key
        left_over = sendlog.settle_interrupted(conn, key)
        if left_over:
            log.warning("issue=%s %d message(s) were handed to the relay by a run that died: not resending them "
                        "(at most once; `digest send --resend-uncertain` overrides)", key, left_over)
        if resend_uncertain:
            sendlog.requeue_uncertain(conn, key)
        active = subscriber_store.active_subscribers(conn)
        sendlog.queue(conn, key, ((s.id, s.email) for s in active))
        states = sendlog.statuses(conn, key)
        active_by_id = {s.id: s for s in active}
        report = SendReport(issue_key=key, mode=mode, total=len(states))
        report.skipped = sum(1 for st in states.values() if st in ("sent", "skipped"))
        report.uncertain = sum(1 for st in states.values() if st == "uncertain")
        jobs: list[_Job] = []
        for sid, state in sorted(states.items()):
            if state != "queued":
                continue
            if sid in active_by_id:
                jobs.append(_Job(active_by_id[sid]))
            else:
                sendlog.mark(conn, key, sid, "skipped", "no longer active")
                report.skipped += 1
        secret = token_secret(config.delivery, conn)
        template = MessageTemplate(content, config.delivery, secret, sign=make_signer(config))
        if mode == "smtp" and not config.delivery.unsubscribe_url.startswith("https://"):
            log.warning("[delivery].unsubscribe_url %s is not https: RFC 8058 one-click needs https, and mailbox "
                        "providers ignore it otherwise", config.delivery.unsubscribe_url)
        run = _Run(config, conn, template, report, on_progress)
        log.info("stage=send issue=%s mode=%s to_send=%d already=%d", key, mode, len(jobs), report.skipped)
        if on_progress is not None:
            on_progress(report)
        if mode == "outbox":
            _write_outbox(run, jobs, stop)
        else:
            _send_smtp(run, jobs, stop)
        report.stopped = stop.is_set() and report.done < report.total
        log.info("stage=send %s", report.summary())
        return report


def _write_outbox(run: _Run, jobs: list[_Job], stop: threading.Event) -> None:
    folder = run.config.path(run.config.delivery.outbox_dir)
    for job in jobs:
        if stop.is_set():
            return
        sub = job.subscriber
        message = run.template.personalize(sub)
        path = write_message(folder, outbox_name(run.key, sub.id, sub.email), message.data)
        run.outcome(job, "sent", str(path))


def _send_smtp(run: _Run, jobs: list[_Job], outer_stop: threading.Event) -> None:
    settings = run.config.smtp
    stop = threading.Event()  # set by the caller's stop, or by a fatal error in any worker
    queue = _JobQueue(jobs, stop)
    limiter = RateLimiter(settings.max_per_second, settings.max_per_hour)
    context = (tls_context(settings, str(run.config.path(settings.ca_file)) if settings.ca_file else None)
               if settings.security != "none" else None)
    password = settings.password
    fatal: list[BaseException] = []

    def relay_stop_watch() -> None:
        while not stop.is_set():
            if outer_stop.wait(STOP_POLL_SECONDS):
                stop.set()

    def work() -> None:
        relay = RelayConnection(settings, password=password, context=context)
        lost_in_a_row = 0
        try:
            while (job := queue.get()) is not None:
                outcome = _send_one(run, relay, job, limiter, stop, queue)
                if outcome == "lost":
                    lost_in_a_row += 1
                    if lost_in_a_row > settings.max_retries:
                        raise DeliveryError(f"SMTP relay {settings.host}:{settings.port} unreachable after "
                                            f"{lost_in_a_row} attempts; the rest stays queued for the next run")
                else:
                    lost_in_a_row = 0
        except BaseException as exc:  # handed to the calling thread, which re-raises it
            fatal.append(exc)
            stop.set()
        finally:
            relay.close()

    watcher = threading.Thread(target=relay_stop_watch, name="send-stop", daemon=True)
    watcher.start()
    workers = [threading.Thread(target=work, name=f"smtp-{i}") for i in range(min(settings.pool_size, len(jobs)))]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        run.flush()
    stop.set()
    watcher.join()
    if fatal:
        raise fatal[0]


def _send_one(run: _Run, relay: RelayConnection, job: _Job, limiter: RateLimiter, stop: threading.Event,
              queue: _JobQueue) -> str:
    """One transaction; returns "done", "retry" or "lost" (connection trouble before the final dot)."""
    settings = run.config.smtp
    sub = job.subscriber
    if not run.is_active(sub.id):
        run.outcome(job, "skipped", "no longer active")
        queue.finish()
        return "done"
    if not limiter.wait(stop):
        return "done"  # stopping: the job stays queued in the log
    message = run.template.personalize(sub)
    try:
        relay.transmit(run.config.delivery.from_address, sub.email, message.data, lambda: run.handed(message))
    except TemporaryFailure as exc:
        if job.attempt >= settings.max_retries:
            run.outcome(job, "failed", f"{exc} (after {job.attempt + 1} attempts)")
            queue.finish()
            return "done"
        run.outcome(job, "queued", str(exc))
        delay = settings.retry_backoff_seconds * (2 ** job.attempt)
        log.info("smtp: %s deferred (%s): retry in %.1fs", sub.email, exc, delay)
        queue.retry(_Job(sub, job.attempt + 1), delay)
        return "retry"
    except PermanentFailure as exc:
        run.outcome(job, "failed", str(exc), permanent=True)
        queue.finish()
        return "done"
    except ConnectionLost as exc:
        with run.lock:
            run.report.reconnects += 1
        if exc.after_final_dot:
            run.outcome(job, "uncertain", f"{exc} after the final dot: the relay may have it")
            queue.finish()
            return "done"
        log.warning("smtp: %s; reconnecting", exc)
        run.outcome(job, "queued", str(exc))
        queue.retry(job, min(settings.retry_backoff_seconds, 1.0))
        return "lost"
    run.outcome(job, "sent", deferred=True)
    queue.finish()
    return "done"
