"""The only module that runs the stages in order.

ingest -> dedup -> summarize -> rank -> render -> deliver. Each stage is a
function of plain objects; this module does the I/O around them (reading
and writing the store, the output folder) so the stages stay pure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import storage
from .config import Config
from .dedup import group_stories
from .deliver import SendReport, deliver_issue, load_issue
from .errors import DigestError
from .ingest import fetch_sources
from .models import PastStory, RenderedIssue, SourceResult, Story
from .rank import make_issue, rank_stories, select_stories
from .render import ArchiveEntry, render_archive, render_issue, write_archive, write_issue
from .storage import articles as article_store
from .storage import issues as issue_store
from .storage import runs as run_store
from .storage import subscribers as subscriber_store
from .summarize import summarize_story


log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingest run did, source by source."""

    results: list[SourceResult] = field(default_factory=list)
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def failed(self) -> list[SourceResult]:
        return [r for r in self.results if not r.ok]


def ingest(
    config: Config,
    conn: storage.Connection,
    *,
    on_result: Callable[[SourceResult], None] | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Fetch every enabled source concurrently and store what is new; a broken source is recorded and skipped."""
    now = now or datetime.now(timezone.utc)
    sources = [s for s in config.sources if s.enabled]
    states = article_store.feed_states(conn)
    report = IngestReport()
    for result in fetch_sources(sources, states, config.ingest, base_dir=config.base_dir, now=now):
        counts = article_store.save_articles(conn, result.articles, now=now)
        if result.state is not None:
            article_store.save_feed_state(conn, result.state)
        report.results.append(result)
        report.new += counts.new
        report.updated += counts.updated
        report.unchanged += counts.unchanged
        if result.ok:
            log.info("source=%s items=%d new=%d updated=%d%s", result.source, len(result.articles),
                     counts.new, counts.updated, " not-modified" if result.not_modified else "")
        else:
            log.warning("source=%s failed: %s", result.source, result.error)
        if on_result:
            on_result(result)
    return report


@dataclass(frozen=True)
class BuildResult:
    """A built issue and where its files are."""

    rendered: RenderedIssue
    folder: Path


def issue_key(config: Config, now: datetime) -> str:
    """The slot an issue belongs to: its date in the configured time zone."""
    return now.astimezone(config.tz).date().isoformat()


def past_stories(conn: storage.Connection, before_key: str) -> list[PastStory]:
    """Stories of every built or sent issue other than `before_key` (the one being built)."""
    return issue_store.past_stories(conn, exclude_key=before_key)


def collect_stories(config: Config, conn: storage.Connection, now: datetime) -> list[Story]:
    """Group the articles of the lookback window into stories, minus what earlier issues told."""
    since = now - timedelta(hours=config.digest.lookback_hours)
    articles = article_store.articles_since(conn, since)
    return group_stories(articles, config.dedup, past_stories(conn, before_key=issue_key(config, now)))


def build(config: Config, conn: storage.Connection, *, now: datetime | None = None,
          rendered: RenderedIssue | None = None) -> BuildResult:
    """dedup -> summarize -> rank -> render -> write out/<date>/, for the issue of `now`'s date.

    `rendered`: an issue already drafted (run() drafts first, to skip a slot with too little news
    before anything is recorded as told).
    """
    now = now or datetime.now(timezone.utc)
    rendered = rendered or draft(config, conn, now=now)
    issue = rendered.issue
    folder = write_issue(rendered, config.output_dir)
    issue_store.save_issue(conn, issue, folder, built_at=now)
    write_archive_page(config, conn)
    log.info("stage=build issue=%s stories=%d quick_hits=%d folder=%s",
             issue.key, len(issue.stories), len(issue.quick_hits), folder)
    return BuildResult(rendered, folder)


def draft(config: Config, conn: storage.Connection, *, now: datetime | None = None) -> RenderedIssue:
    """dedup -> summarize -> rank -> render, without writing or recording anything (`digest preview` uses it)."""
    now = now or datetime.now(timezone.utc)
    key = issue_key(config, now)
    d = config.digest
    weights = {s.name: s.weight for s in config.sources}
    stories = select_stories(collect_stories(config, conn, now), weights=weights, now=now,
                             limit=d.max_stories + d.quick_hits)
    summaries = [
        summarize_story(s, config.summarize, max_points=d.max_key_points, min_points=d.min_key_points,
                        llm=config.llm if config.summarize.backend == "llm" else None)
        for s in stories
    ]
    ranked = rank_stories(summaries, weights=weights, now=now)
    issue = make_issue(ranked, key=key, day=now.astimezone(config.tz).date(), title=d.title,
                       max_stories=d.max_stories, quick_hits=d.quick_hits)
    return render_issue(issue, digest=d, settings=config.render, templates_dir=config.templates_path)


# --- run: one slot end to end, exactly once (`digest run` and the scheduler call this) ---

RUN_SENT, RUN_SKIPPED, RUN_DONE, RUN_BUSY, RUN_INTERRUPTED, RUN_FAILED = (
    "sent", "skipped", "done", "busy", "interrupted", "failed")


@dataclass(frozen=True)
class StageOutcome:
    """What one stage of a run did: counts, duration, and the error if it failed."""

    name: str
    ok: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    started_at: float = 0.0  # time.time() at the start, so a benchmark can attribute memory samples

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "seconds": self.seconds, "counts": self.counts,
                "error": self.error}


@dataclass(frozen=True)
class RunResult:
    """The outcome of one trigger for one slot.

    outcome: "sent", "skipped" (too little news, or missed beyond the grace window),
    "done" (the slot was already sent or skipped: nothing happened), "busy" (another
    process is working on it), "interrupted" (stopped; the next run resumes it), "failed".
    """

    key: str
    outcome: str
    reason: str | None = None
    run_id: int | None = None
    stages: tuple[StageOutcome, ...] = ()
    send_report: object | None = None

    def stage(self, name: str) -> StageOutcome | None:
        return next((s for s in self.stages if s.name == name), None)


class _StageLog:
    """Times stages and writes one `stage=... key=value` log line for each."""

    def __init__(self, key: str, run_id: int) -> None:
        self.key, self.run_id = key, run_id
        self.stages: list[StageOutcome] = []
        self.current: str | None = None
        self._t0 = 0.0
        self._wall = 0.0

    def begin(self, name: str) -> None:
        self.current, self._t0, self._wall = name, time.perf_counter(), time.time()

    def end(self, counts: dict[str, int], error: str | None = None) -> None:
        outcome = StageOutcome(self.current or "?", error is None, round(time.perf_counter() - self._t0, 3),
                               counts, error, self._wall)
        self.stages.append(outcome)
        self.current = None
        fields_ = " ".join(f"{k}={v}" for k, v in counts.items())
        line = (f"stage={outcome.name} slot={self.key} run={self.run_id} ok={str(outcome.ok).lower()} "
                f"seconds={outcome.seconds:.3f}" + (f" {fields_}" if fields_ else ""))
        if error:
            log.error("%s error=%r", line, error)
        else:
            log.info("%s", line)


def _report_counts(report: object) -> dict[str, int]:
    """The whole-number and list fields of a stage report, as counts for the run record."""
    if not is_dataclass(report):
        return {}
    counts = {}
    for f in fields(report):
        value = getattr(report, f.name)
        if isinstance(value, int) and not isinstance(value, bool):
            counts[f.name] = value
        elif isinstance(value, (list, tuple, dict, set)):
            counts[f.name] = len(value)
    return counts


def run(
    config: Config,
    conn: storage.Connection,
    *,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    scheduled_for: datetime | None = None,
    trigger: str = "manual",
    on_progress: Callable[..., None] | None = None,
) -> RunResult:
    """Claim the slot, then ingest -> build -> enough news? -> send; at most one issue per slot.

    The slot key is the date (in [digest].timezone) of `scheduled_for`, the fire
    time, or of `now` for a manual run. The claim is written before anything is
    built: a second trigger for the slot does nothing, and a slot whose send was
    interrupted (stop, crash, relay down) only resumes sending, never rebuilds.
    Setting `stop` lets the message in flight finish, then records where it stopped.
    """
    clock = now or datetime.now(timezone.utc)
    slot_time = scheduled_for or clock
    key = issue_key(config, slot_time)
    claim = run_store.claim_slot(conn, key, now=clock, scheduled_for=scheduled_for)
    if claim.action in (run_store.DONE, run_store.BUSY):
        slot = claim.slot
        if claim.action == run_store.DONE:
            outcome, reason = RUN_DONE, f"slot {key} is already {slot.status}" + (f" ({slot.reason})" if slot.reason else "")
        else:
            outcome, reason = RUN_BUSY, f"slot {key} is being worked on by pid {slot.owner_pid} on {slot.owner_host}"
        log.info("stage=claim slot=%s outcome=%s reason=%r", key, outcome, reason)
        return RunResult(key, outcome, reason)

    run_id = run_store.start_run(conn, key, trigger=trigger, now=clock)
    stages = _StageLog(key, run_id)
    outcome, reason, report = RUN_FAILED, None, None

    def finish(status: str | None, why: str | None) -> None:
        at = datetime.now(timezone.utc) if now is None else clock
        if status is None:
            run_store.release_slot(conn, key, now=at, reason=why)
        else:
            run_store.finish_slot(conn, key, status, now=at, reason=why)
        run_store.finish_run(conn, run_id, outcome=outcome, reason=why,
                             stages=[s.as_dict() for s in stages.stages], now=at)

    try:
        if claim.action == run_store.BUILD:
            stages.begin("ingest")
            ingested = ingest(config, conn, now=clock)
            stages.end({"sources": len(ingested.results), "failed_sources": len(ingested.failed),
                        "new": ingested.new, "updated": ingested.updated})
            if stop is not None and stop.is_set():
                outcome, reason = RUN_INTERRUPTED, "stopped after ingest; the next run builds the issue"
                finish(None, reason)
                return RunResult(key, outcome, reason, run_id, tuple(stages.stages))

            stages.begin("build")
            drafted = draft(config, conn, now=slot_time)
            issue = drafted.issue
            fresh = len(issue.stories) + len(issue.quick_hits)
            minimum = config.schedule.min_new_stories
            if fresh >= minimum:  # only a built issue counts as told (dedup's memory): build it only to send it
                build(config, conn, now=slot_time, rendered=drafted)
            stages.end({"stories": len(issue.stories), "quick_hits": len(issue.quick_hits), "new_stories": fresh})
            if fresh < minimum:
                outcome = RUN_SKIPPED
                reason = f"{fresh} new stories, fewer than [schedule].min_new_stories = {minimum}; nothing sent"
                finish(run_store.SKIPPED, reason)
                log.info("stage=run slot=%s run=%d outcome=%s reason=%r", key, run_id, outcome, reason)
                return RunResult(key, outcome, reason, run_id, tuple(stages.stages))
            run_store.mark_built(conn, key, now=clock)
            if stop is not None and stop.is_set():
                outcome, reason = RUN_INTERRUPTED, "stopped before sending; the next run sends it"
                finish(None, reason)
                return RunResult(key, outcome, reason, run_id, tuple(stages.stages))

        stages.begin("send")
        report = send(config, conn, issue_key=key, stop=stop, on_progress=on_progress)
        stages.end(_report_counts(report))
        if report.stopped:
            outcome, reason = RUN_INTERRUPTED, "stopped while sending; the next run sends to those left"
            finish(None, reason)
        else:
            outcome = RUN_SENT
            finish(run_store.SENT, None)
    except DigestError as exc:
        failed_stage = stages.current or "run"
        if stages.current:
            stages.end({}, str(exc))
        outcome, reason = RUN_FAILED, f"{failed_stage}: {exc}"
        finish(run_store.FAILED, reason)
    except BaseException as exc:
        # A bug or a hard stop: record it so `digest status` shows it and the next run retries, then re-raise.
        failed_stage = stages.current or "run"
        if stages.current:
            stages.end({}, f"{type(exc).__name__}: {exc}")
        outcome, reason = RUN_FAILED, f"{failed_stage}: {type(exc).__name__}: {exc}"
        finish(run_store.FAILED, reason)
        raise
    log.info("stage=run slot=%s run=%d outcome=%s%s", key, run_id, outcome, f" reason={reason!r}" if reason else "")
    return RunResult(key, outcome, reason, run_id, tuple(stages.stages), report)


def write_archive_page(config: Config, conn: storage.Connection) -> Path:
    """Write out/index.html, the web archive's list of every built or sent issue."""
    entries = [ArchiveEntry(r.key, r.date, r.headline, r.subtitle) for r in issue_store.list_issues(conn)]
    page = render_archive(entries, digest=config.digest, settings=config.render, templates_dir=config.templates_path)
    return write_archive(page, config.output_dir)


_slot_key = issue_key  # send()'s `issue_key` parameter shadows the function


def send(config: Config, conn: storage.Connection, *, issue_key: str | None = None,
         stop: threading.Event | None = None, on_progress: Callable[[SendReport], None] | None = None,
         resend_uncertain: bool = False) -> SendReport:
    """Deliver the built issue out/<key>/ (today's by default) to every active subscriber who has not had it.

    The sample [[subscribers]] of config.toml are added first when absent (an unsubscribed one stays so).
    """
    key = issue_key or _slot_key(config, datetime.now(timezone.utc))
    content = load_issue(config.output_dir / key)
    for sample in config.subscribers:
        subscriber_store.add_subscriber(conn, sample.email, sample.first_name or None, reason="sample in config.toml")
    report = deliver_issue(config, conn, content, stop=stop, on_progress=on_progress,
                           resend_uncertain=resend_uncertain)
    if not report.stopped:
        issue_store.mark_issue_sent(conn, key)  # the archive and `digest status` show it as sent
    return report
