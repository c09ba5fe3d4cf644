"""The draft the preview shows, rebuilt when a template or config.toml changes.

A thread polls the modification times of config.toml and the template
folders (cheap: a few dozen files) and rebuilds the draft in memory through
`pipeline.draft`. Each rebuild, good or bad, bumps a generation number that
open pages wait on. A failed build keeps the last good draft and records why
it failed, with the template file and line when the error came from a template.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2

from .. import pipeline, storage
from ..config import Config, load_config
from ..errors import ConfigError, DigestError
from ..models import Article, RenderedIssue
from ..render import BUILTIN_TEMPLATES
from ..storage import articles as article_store

log = logging.getLogger(__name__)

EXCERPT_LINES = 3  # lines shown on each side of a template error
Builder = Callable[..., RenderedIssue]


@dataclass(frozen=True)
class BuildProblem:
    """Why the last build failed: a message, and the template file and line when known."""

    kind: str  # "config", "template" or "build"
    message: str
    file: str | None = None
    line: int | None = None
    excerpt: tuple[tuple[int, str], ...] = ()  # (line number, text) around `line`


@dataclass(frozen=True)
class Snapshot:
    """What the preview shows right now. Replaced whole on every rebuild, never edited."""

    generation: int
    config: Config | None  # the last config that loaded
    rendered: RenderedIssue | None  # the last draft that built
    problem: BuildProblem | None  # why the latest build failed; None when it worked
    built_at: datetime | None = None
    article_count: int = 0
    duplicates: dict[str, Article] = field(default_factory=dict)  # collapsed copies (Story.aliases), by id


class DraftWatcher:
    """Builds the draft from `config_path` and rebuilds it whenever a watched file changes."""

    def __init__(self, config_path: str | Path, *, builder: Builder = pipeline.draft,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config_path = Path(config_path).resolve()
        self._builder = builder
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._changed = threading.Condition()
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot = Snapshot(generation=0, config=None, rendered=None, problem=None)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def template_dirs(self, config: Config | None = None) -> list[Path]:
        """The built-in templates folder, then the user's override folder when configured."""
        config = config or self._snapshot.config
        dirs = [BUILTIN_TEMPLATES]
        if config is not None and config.templates_path is not None:
            dirs.append(config.templates_path.resolve())
        return dirs

    def rebuild(self) -> Snapshot:
        """Reload the config and build the draft again; never raises for a bad template or config."""
        with self._build_lock:
            previous = self._snapshot
            config, rendered, problem = previous.config, previous.rendered, None
            count, duplicates = previous.article_count, previous.duplicates
            try:
                config = load_config(self.config_path)
                conn = storage.connect(config.db_path)
                try:
                    count = article_store.count_articles(conn)
                    rendered = self._builder(config, conn, now=self._clock())
                    duplicates = _collapsed_copies(conn, rendered)
                finally:
                    conn.close()
            except ConfigError as exc:
                problem = BuildProblem("config", str(exc))
            except (DigestError, jinja2.TemplateError) as exc:
                problem = describe_problem(exc, self.template_dirs(config))
            except Exception as exc:  # noqa: BLE001 - like the scheduler's job wrapper: a bug in a stage
                # must show on the page and leave the server running while the editor keeps working.
                log.exception("preview build failed")
                problem = BuildProblem("build", f"{type(exc).__name__}: {exc}")
            if problem:
                log.warning("preview build failed: %s", problem.message.splitlines()[0] if problem.message else "")
            else:
                log.info("preview rebuilt issue=%s", rendered.issue.key if rendered else "-")
            snapshot = Snapshot(
                generation=previous.generation + 1, config=config, rendered=rendered, problem=problem,
                built_at=self._clock() if problem is None else previous.built_at, article_count=count,
                duplicates=duplicates,
            )
            with self._changed:
                self._snapshot = snapshot
                self._changed.notify_all()
            return snapshot

    def wait_for_change(self, generation: int, timeout: float) -> Snapshot:
        """Block until the generation differs from `generation` (or timeout, or stop); return the snapshot."""
        with self._changed:
            self._changed.wait_for(lambda: self._snapshot.generation != generation or self._stop.is_set(),
                                   timeout=timeout)
            return self._snapshot

    def watched_files(self) -> dict[Path, tuple[int, int]]:
        """(mtime in ns, size) of config.toml and every template file, by path."""
        found: dict[Path, tuple[int, int]] = {}
        candidates = [self.config_path]
        for folder in self.template_dirs():
            candidates.extend(_template_files(folder))
        for path in candidates:
            try:
                st = path.stat()
            except OSError:  # deleted between listing and stat: the next poll sees it gone
                continue
            found[path] = (st.st_mtime_ns, st.st_size)
        return found

    def start(self) -> None:
        """Build once, then watch for changes in a daemon thread."""
        before = self.watched_files()  # stamps from before the build: a save during it is seen
        self.rebuild()
        seen = _adopt(before, self.watched_files())
        self._thread = threading.Thread(target=self._watch, args=(seen,), name="digest-preview-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _poll_seconds(self) -> float:
        config = self._snapshot.config
        return config.preview.poll_seconds if config else 0.3

    def _watch(self, seen: dict[Path, tuple[int, int]]) -> None:
        while not self._stop.wait(self._poll_seconds()):
            current = self.watched_files()
            if current != seen:
                changed = sorted(str(p) for p in set(current) | set(seen) if current.get(p) != seen.get(p))
                log.info("preview: changed %s", ", ".join(changed[:5]))
                self.rebuild()
                seen = _adopt(current, self.watched_files())


def _adopt(before: dict[Path, tuple[int, int]], after: dict[Path, tuple[int, int]]) -> dict[Path, tuple[int, int]]:
    """The files to watch after a build (its config may name another templates folder), with the stamps
    taken before the build where there are any, so a save made during the build is not lost."""
    return {path: before.get(path, stamp) for path, stamp in after.items()}


def _collapsed_copies(conn: storage.Connection, rendered: RenderedIssue) -> dict[str, Article]:
    """The articles dedup collapsed into a kept one (syndicated copies), so the editor sees them too."""
    issue = rendered.issue
    ids = {dup for s in issue.stories + issue.quick_hits for dups in s.story.aliases.values() for dup in dups}
    return {a.id: a for a in article_store.articles_by_id(conn, sorted(ids))}


def _template_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        # Editors' swap and backup files change on every keystroke; they are not templates.
        if path.name.startswith(".") or path.name.endswith("~") or not path.is_file():
            continue
        yield path


def describe_problem(exc: BaseException, template_dirs: list[Path]) -> BuildProblem:
    """Turn a build error into a message plus the template file and line it points at, when there is one."""
    message = str(exc) or type(exc).__name__
    for err in _chain(exc):
        if isinstance(err, jinja2.TemplateSyntaxError):
            file = err.filename or err.name
            if err is not exc:
                message = f"{message}\n{err.message}" if err.message and err.message not in message else message
            return _located("template", message, file, err.lineno, template_dirs)
    for err in _chain(exc):
        # Jinja rewrites tracebacks so a runtime error (undefined name, bad filter) has a frame
        # whose file is the template and whose line is the template line.
        for frame in reversed(traceback.extract_tb(err.__traceback__)):
            if _inside(Path(frame.filename), template_dirs):
                return _located("template", message, frame.filename, frame.lineno, template_dirs)
    kind = "template" if isinstance(exc, jinja2.TemplateError) else "build"
    return BuildProblem(kind, message)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _inside(path: Path, folders: list[Path]) -> bool:
    try:
        resolved = path.resolve()
    except OSError:
        return False
    return any(resolved.is_relative_to(folder) for folder in folders)


def _located(kind: str, message: str, file: str | None, line: int | None, template_dirs: list[Path]) -> BuildProblem:
    excerpt: tuple[tuple[int, str], ...] = ()
    if file and line and _inside(Path(file), template_dirs):
        # Only template files are read back for the excerpt, never an arbitrary path from a message.
        try:
            lines = Path(file).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            lines = []
        first = max(1, line - EXCERPT_LINES)
        excerpt = tuple((n, lines[n - 1]) for n in range(first, min(len(lines), line + EXCERPT_LINES) + 1))
    shown = file
    if file:
        for folder in template_dirs:
            if _inside(Path(file), [folder]):
                shown = str(Path(file).resolve().relative_to(folder.parent))
                break
    return BuildProblem(kind, message, shown, line, excerpt)
