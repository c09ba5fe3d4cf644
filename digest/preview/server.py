"""The preview's HTTP side: routes, pages, the live-reload event stream and safe static files.

Standard library only (`ThreadingHTTPServer`). Pages are Jinja2 templates in
`pages/` with autoescape on, so every string from a feed is escaped. Files are
served only from the output folder, after resolving symlinks; the email and
the archive copies are served with a CSP that forbids scripts. When bound to
loopback, requests naming another host are refused (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import mimetypes
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import jinja2

from .. import storage
from ..config import Config
from ..errors import DigestError, InputError
from ..models import RenderedIssue, Subscriber
from ..render import GMAIL_CLIP_BYTES, fill_placeholders
from ..storage import issues as issue_store
from ..storage.issues import IssueRecord
from .draft import DraftWatcher, Snapshot
from .message import DeliveryHooks, find_delivery, personalize, placeholder_values, sample_subscribers

log = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).resolve().parent / "pages"
ASSETS = {"preview.css": "text/css; charset=utf-8", "preview.js": "text/javascript; charset=utf-8"}
EVENT_KEEPALIVE_SECONDS = 15.0
MAX_FORM_BYTES = 10_000
DESKTOP_WIDTH = 800  # wider than the 600 px column, so the background around it shows
MOBILE_WIDTH = 375  # an iPhone's CSS width
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: http: https:; "
            "frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
            "frame-ancestors 'none'")
# Emails and archive copies never run scripts; remote images and inline styles are what mail clients allow.
CONTENT_CSP = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
DRAFT_VIEWS = (("email", "Email"), ("text", "Plain text"), ("source", "HTML source"),
               ("headers", "Headers"), ("stories", "Stories"))
ARCHIVE_VIEWS = (("email", "Email"), ("text", "Plain text"), ("source", "HTML source"), ("json", "JSON"))


@dataclass(frozen=True)
class ArchivedIssue:
    """One built issue found in the output folder."""

    key: str
    date: date | None
    headline: str
    subtitle: str
    files: tuple[str, ...]  # which of email.html, index.html, digest.txt, digest.json, digest.mjml exist
    status: str = "built"  # "built" or "sent", from the store; "built" when the store does not know it
    sent_at: datetime | None = None


class PreviewServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer bound to one DraftWatcher; `url` is where to point a browser."""

    daemon_threads = True

    def __init__(self, watcher: DraftWatcher, host: str, port: int, hooks: DeliveryHooks) -> None:
        self.watcher = watcher
        self.hooks = hooks
        self.form_token = secrets.token_urlsafe(16)
        self.pages = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PAGES_DIR)), autoescape=True,
                                        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.is_loopback = _is_loopback(host)
        self._thread: threading.Thread | None = None
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), PreviewHandler)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"

    def serve_in_thread(self) -> threading.Thread:
        """Serve from a daemon thread (tests, embedding); `close()` stops it."""
        self._thread = threading.Thread(target=self.serve_forever, name="digest-preview-http", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        """Stop serving and watching; open event streams end."""
        self.watcher.stop()
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()


def start_preview(config_path: str | Path, *, host: str | None = None, port: int | None = None,
                  watcher: DraftWatcher | None = None, hooks: DeliveryHooks | None = None) -> PreviewServer:
    """Build the draft, start watching for changes and bind the server (call serve_forever or serve_in_thread).

    `host` and `port` default to [preview].host and [preview].port; port 0 picks a free one.
    """
    watcher = watcher or DraftWatcher(config_path)
    watcher.start()
    config = watcher.snapshot.config
    host = host or (config.preview.host if config else "127.0.0.1")
    port = (config.preview.port if config else 8025) if port is None else port
    try:
        server = PreviewServer(watcher, host, port, hooks if hooks is not None else find_delivery())
    except DigestError:
        watcher.stop()
        raise
    if not server.is_loopback:
        log.warning("preview listening on %s: drafts are visible to other machines", host)
    return server


def list_archive(output_dir: Path, records: Mapping[str, IssueRecord] | None = None) -> list[ArchivedIssue]:
    """Every built issue under the output folder (out/<key>/), newest first, with its status from `records`."""
    records = records or {}
    found: list[ArchivedIssue] = []
    for folder in output_dir.iterdir() if output_dir.is_dir() else ():
        # A symlinked folder could point anywhere: the archive lists real folders only.
        if folder.is_symlink() or not folder.is_dir() or folder.name.startswith("."):
            continue
        files = tuple(name for name in ("email.html", "index.html", "digest.txt", "digest.json", "digest.mjml")
                      if (folder / name).is_file() and not (folder / name).is_symlink())
        if "email.html" not in files and "index.html" not in files:
            continue
        meta: dict[str, Any] = {}
        if "digest.json" in files:
            try:
                loaded = json.loads((folder / "digest.json").read_text(encoding="utf-8"))
                meta = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                log.warning("archive: %s/digest.json is not readable JSON", folder.name)
        record = records.get(folder.name)
        found.append(ArchivedIssue(folder.name, _parse_date(meta.get("date")) or _parse_date(folder.name),
                                   str(meta.get("headline") or (record.headline if record else "")),
                                   str(meta.get("subtitle") or ""), files,
                                   record.status if record else "built", record.sent_at if record else None))
    # Issues the store knows whose files are gone (output folder moved or cleaned) are listed, unopenable.
    listed = {a.key for a in found}
    found += [ArchivedIssue(r.key, r.date, r.headline, r.subtitle, (), r.status, r.sent_at)
              for r in records.values() if r.key not in listed]
    return sorted(found, key=lambda a: (a.date or date.min, a.key), reverse=True)


def safe_file(root: Path, url_path: str) -> Path | None:
    """The file under `root` that a URL path names, or None when it names anything outside it.

    Percent-decoding happens once, here; "..", ".", absolute paths, NUL and
    backslashes are refused; symlinks are resolved and must stay inside `root`;
    a folder means its index.html.
    """
    relative = unquote(url_path)
    if not relative or "\x00" in relative or "\\" in relative or relative.startswith("/"):
        return None
    if any(part in (".", "..") for part in relative.split("/")):
        return None
    try:
        base = root.resolve(strict=True)
        target = base / relative
        if target.is_dir():
            target = target / "index.html"
        target = target.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


class PreviewHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "digest-preview"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms per response.
    disable_nagle_algorithm = True

    # -- dispatch ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._host_allowed():
            return
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        parts = [p for p in path.split("/") if p]
        if path == "/":
            return self._redirect("/draft")
        if path == "/favicon.ico":
            return self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        if len(parts) == 2 and parts[0] == "_preview" and parts[1] in ASSETS:
            return self._send(HTTPStatus.OK, (PAGES_DIR / parts[1]).read_bytes(), ASSETS[parts[1]])
        if path == "/events":
            return self._events(query)
        if path == "/api/state":
            return self._state()
        if path.startswith("/out/"):
            return self._static(path[len("/out/"):])
        if parts and parts[0] == "draft":
            return self._draft(parts[1:], query)
        if parts and parts[0] == "archive":
            return self._archive(parts[1:], query)
        self._not_found()

    def do_HEAD(self) -> None:  # noqa: N802
        self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        if not self._host_allowed():
            return
        path = urlsplit(self.path).path
        form = self._form()
        if form is None:
            return
        if not secrets.compare_digest(form.get("token", ""), self.server.form_token):
            return self._send_page(HTTPStatus.FORBIDDEN, "message.html", title="Forbidden",
                                   message="This form is stale (the preview restarted). Reload the page.")
        if path == "/rebuild":
            self.server.watcher.rebuild()
            return self._redirect(_local_redirect(form.get("back", "/draft")))
        if path == "/draft/send-test":
            return self._send_test(form.get("address", "").strip())
        self._not_found()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.debug("%s %s", self.address_string(), format % args)

    # -- the draft --------------------------------------------------------------------------------------

    def _draft(self, rest: list[str], query: dict[str, list[str]]) -> None:
        snap = self.server.watcher.snapshot
        view = rest[0] if rest else "email"
        if view == "email.html":
            message = self._message(snap, query)
            if message is None:
                return self._send(HTTPStatus.NOT_FOUND, _EMPTY_EMAIL, "text/html; charset=utf-8", csp=CONTENT_CSP)
            return self._send(HTTPStatus.OK, message.html.encode("utf-8"), "text/html; charset=utf-8", csp=CONTENT_CSP)
        if len(rest) > 1 or view not in dict(DRAFT_VIEWS):
            return self._not_found()
        message = self._message(snap, query)
        subscribers = sample_subscribers(snap.config) if snap.config else []
        context: dict[str, Any] = dict(
            base="/draft", views=DRAFT_VIEWS, view=view, live=True, snap=snap, message=message,
            rendered=snap.rendered, subscribers=subscribers,
            chosen=message.subscriber.email if message else "",
            html_bytes=len(message.html.encode("utf-8")) if message else 0, clip_bytes=GMAIL_CLIP_BYTES,
            can_send=self.server.hooks.send_test is not None and snap.rendered is not None,
            sent=_first(query, "sent"), send_error=_first(query, "send_error"),
            subject=_header(message, "Subject"), text=message.text if message else "",
            html=message.html if message else "", mjml=snap.rendered.mjml if snap.rendered else "",
        )
        if view == "stories" and snap.rendered is not None:
            context["stories"] = _story_rows(snap.rendered, snap.duplicates)
        self._send_page(HTTPStatus.OK, f"draft_{view}.html", title=dict(DRAFT_VIEWS)[view], **context)

    def _message(self, snap: Snapshot, query: dict[str, list[str]]):
        if snap.rendered is None or snap.config is None:
            return None
        subscribers = sample_subscribers(snap.config)
        wanted = _first(query, "as").lower()
        subscriber = next((s for s in subscribers if s.email.lower() == wanted), subscribers[0])
        return personalize(snap.config, snap.rendered, subscriber, self.server.hooks)

    def _send_test(self, address: str) -> None:
        snap = self.server.watcher.snapshot
        send = self.server.hooks.send_test
        if send is None or snap.rendered is None or snap.config is None:
            return self._not_found()
        try:  # delivery validates the address (InputError) and reports a refused send (DeliveryError)
            send(snap.config, snap.rendered, address)
        except DigestError as exc:
            log.warning("preview: test send to %s failed: %s", address, exc)
            return self._redirect(f"/draft?send_error={quote(str(exc))}")
        log.info("preview: test sent to %s", address)
        self._redirect(f"/draft?sent={quote(address)}")

    # -- the archive ------------------------------------------------------------------------------------

    def _archive(self, rest: list[str], query: dict[str, list[str]]) -> None:
        snap = self.server.watcher.snapshot
        output_dir = snap.config.output_dir if snap.config else None
        issues = list_archive(output_dir, _issue_records(snap.config)) if output_dir and snap.config else []
        if not rest:
            has_index = output_dir is not None and safe_file(output_dir, "index.html") is not None
            return self._send_page(HTTPStatus.OK, "archive.html", title="Archive", issues=issues, has_index=has_index,
                                   views=DRAFT_VIEWS, base="/archive", view="", live=False, snap=snap)
        # The key must be one the listing found: a URL segment is never joined onto a path unchecked.
        issue = next((i for i in issues if i.key == unquote(rest[0])), None)
        if issue is None or not issue.files or output_dir is None or len(rest) > 2:
            return self._not_found()
        view = rest[1] if len(rest) > 1 else "email"
        subscribers = sample_subscribers(snap.config) if snap.config else []
        wanted = _first(query, "as").lower()
        subscriber = next((s for s in subscribers if s.email.lower() == wanted), subscribers[0])
        if view == "email.html":
            body = self._archived_part(output_dir, issue, "email.html", subscriber, is_html=True)
            if body is None:
                return self._not_found()
            return self._send(HTTPStatus.OK, body.encode("utf-8"), "text/html; charset=utf-8", csp=CONTENT_CSP)
        if view not in dict(ARCHIVE_VIEWS):
            return self._not_found()
        html_body = self._archived_part(output_dir, issue, "email.html", subscriber, is_html=True) or ""
        context: dict[str, Any] = dict(
            base=f"/archive/{quote(issue.key)}", views=ARCHIVE_VIEWS, view=view, live=False, snap=snap,
            issue=issue, subscribers=subscribers, chosen=subscriber.email,
            text=self._archived_part(output_dir, issue, "digest.txt", subscriber, is_html=False),
            html=html_body, html_bytes=len(html_body.encode("utf-8")), clip_bytes=GMAIL_CLIP_BYTES,
            json_text=self._archived_part(output_dir, issue, "digest.json", None, is_html=False), subject="",
        )
        self._send_page(HTTPStatus.OK, f"archive_{view}.html", title=f"{issue.key} · {dict(ARCHIVE_VIEWS)[view]}",
                        **context)

    def _archived_part(self, output_dir: Path, issue: ArchivedIssue, name: str, subscriber: Subscriber | None,
                       *, is_html: bool) -> str | None:
        path = safe_file(output_dir, f"{issue.key}/{name}")
        if path is None:
            return None
        body = path.read_text(encoding="utf-8", errors="replace")
        config = self.server.watcher.snapshot.config
        if subscriber is None or config is None:
            return body
        return fill_placeholders(body, placeholder_values(config, subscriber), is_html=is_html)

    # -- live reload ------------------------------------------------------------------------------------

    def _events(self, query: dict[str, list[str]]) -> None:
        """Server-Sent Events: a `reload` event whenever the draft is rebuilt."""
        watcher = self.server.watcher
        try:
            since = int(_first(query, "since") or watcher.snapshot.generation)
        except ValueError:
            since = watcher.snapshot.generation
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while not watcher.stopping:
                snap = watcher.wait_for_change(since, EVENT_KEEPALIVE_SECONDS)
                if watcher.stopping:
                    break
                if snap.generation != since:
                    since = snap.generation
                    self.wfile.write(f"event: reload\ndata: {since}\n\n".encode())
                else:
                    self.wfile.write(b": keepalive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away (reloaded or closed)

    def _state(self) -> None:
        snap = self.server.watcher.snapshot
        payload = {
            "generation": snap.generation,
            "ok": snap.problem is None,
            "problem": None if snap.problem is None else {
                "kind": snap.problem.kind, "message": snap.problem.message,
                "file": snap.problem.file, "line": snap.problem.line},
            "issue": snap.rendered.issue.key if snap.rendered else None,
        }
        self._send(HTTPStatus.OK, json.dumps(payload).encode(), "application/json")

    # -- files ------------------------------------------------------------------------------------------

    def _static(self, relative: str) -> None:
        config = self.server.watcher.snapshot.config
        path = safe_file(config.output_dir, relative) if config else None
        if path is None:
            return self._not_found()
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/json", "application/javascript"):
            ctype += "; charset=utf-8"
        self._send(HTTPStatus.OK, path.read_bytes(), ctype, csp=CONTENT_CSP)

    # -- plumbing ---------------------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """On loopback, only requests addressed to a loopback name: a rebinding page cannot read drafts."""
        if not self.server.is_loopback:
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
        if _is_loopback(name):
            return True
        self._send(HTTPStatus.FORBIDDEN, b"unexpected Host header\n", "text/plain; charset=utf-8")
        return False

    def _form(self) -> dict[str, str] | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_FORM_BYTES:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large\n", "text/plain; charset=utf-8")
            return None
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        return {k: v[0] for k, v in parse_qs(raw).items()}

    def _send_page(self, status: HTTPStatus, template: str, **context: Any) -> None:
        snap = context.get("snap") or self.server.watcher.snapshot
        context.setdefault("snap", snap)
        context.setdefault("live", False)
        context.setdefault("views", DRAFT_VIEWS)
        context.setdefault("base", "/draft")
        context.setdefault("view", "")
        context.update(token=self.server.form_token, back=self.path, desktop_width=DESKTOP_WIDTH,
                       mobile_width=MOBILE_WIDTH)
        body = self.server.pages.get_template(template).render(context)
        self._send(status, body.encode("utf-8"), "text/html; charset=utf-8", csp=PAGE_CSP)

    def _send(self, status: HTTPStatus, body: bytes, ctype: str, *, csp: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _not_found(self) -> None:
        self._send_page(HTTPStatus.NOT_FOUND, "message.html", title="Not found",
                        message="Nothing here. The preview serves the draft, the archive and the output folder only.")


_EMPTY_EMAIL = b"<!doctype html><title>No draft</title><p>No draft has been built yet.</p>"


def _story_rows(rendered: RenderedIssue, copies: dict[str, Any]) -> list[dict[str, Any]]:
    """The ranked stories with the why: scores, points and the articles that were merged into each."""
    issue = rendered.issue
    rows = []
    for rank, (summary, part) in enumerate(
            [(s, "story") for s in issue.stories] + [(s, "quick hit") for s in issue.quick_hits], start=1):
        story = summary.story
        by_id = {a.id: a for a in story.articles}
        merged_into = {dup: kept for kept, dups in story.aliases.items() for dup in dups}
        rows.append({
            "rank": rank, "part": part, "summary": summary, "story": story,
            "points": [{"point": p, "sources": [by_id[i].source if i in by_id else i for i in p.article_ids]}
                       for p in summary.details],
            "articles": story.articles,
            "duplicates": [(copies.get(dup), dup, kept) for dup, kept in sorted(merged_into.items())],
        })
    return rows


def _issue_records(config: Config) -> dict[str, IssueRecord]:
    """Built and sent issues as the store knows them (their files are listed from the output folder)."""
    conn = storage.connect(config.db_path)
    try:
        return {r.key: r for r in issue_store.list_issues(conn)}
    finally:
        conn.close()


def _header(message: Any, name: str) -> str:
    if message is None:
        return ""
    return next((v for k, v in message.headers if k.lower() == name.lower()), "")


def _first(query: dict[str, list[str]], key: str) -> str:
    values = query.get(key)
    return values[0] if values else ""


def _local_redirect(target: str) -> str:
    """Only a path on this server: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/draft"


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
