"""`digest serve`: the unsubscribe and preferences pages behind the links in every message.

- ``POST /unsubscribe?t=TOKEN`` with ``List-Unsubscribe=One-Click`` (RFC 8058,
  sent by the mailbox provider) unsubscribes at once, no further click.
- ``GET /unsubscribe?t=TOKEN`` changes nothing (link scanners fetch URLs):
  it shows a confirmation page whose button POSTs.
- ``GET /preferences?t=TOKEN`` shows the address, its status and the first
  name used in the greeting; its form updates the name, unsubscribes or
  resubscribes.

A missing, malformed or forged token gets a 400/403 page and changes nothing.
Standard library only (http.server); one SQLite connection behind a lock.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .config import Config
from .deliver.tokens import is_valid_token, token_secret, token_subscriber_id
from .storage import Connection
from .storage import subscribers as subscriber_store
from .storage.subscribers import SubscriberRecord

MAX_BODY = 16_384
log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}
button{{font:inherit;padding:.5rem 1rem;border:0;border-radius:6px;background:#2563eb;color:#fff;cursor:pointer}}
input[type=text]{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}form{{margin:1rem 0}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


class UnsubscribeApp:
    """The request logic, free of HTTP plumbing: each method returns (status, title, body HTML)."""

    def __init__(self, config: Config, conn: Connection) -> None:
        self.config = config
        self.conn = conn
        self.lock = threading.Lock()
        with self.lock:
            self.secret = token_secret(config.delivery, conn)
        self.newsletter = config.digest.title

    def subscriber_for(self, token: str) -> SubscriberRecord | None:
        """The subscriber a genuine token names; None for a malformed or forged one."""
        sid = token_subscriber_id(token)
        if sid is None:
            return None
        record = subscriber_store.get_subscriber(self.conn, sid)
        if record is None or not is_valid_token(self.secret, token, sid, record.email):
            return None
        return record

    def handle(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> tuple[int, str, str]:
        token = form.get("t") or query.get("t") or ""
        if path not in ("/unsubscribe", "/preferences"):
            return HTTPStatus.NOT_FOUND, "Not found", "<p>There is nothing here.</p>"
        with self.lock:
            record = self.subscriber_for(token)
            if record is None:
                log.info("serve: refused %s %s with a bad token", method, path)
                status = HTTPStatus.BAD_REQUEST if token_subscriber_id(token) is None else HTTPStatus.FORBIDDEN
                return status, "Link not valid", ("<p>This link is not valid (it may be incomplete). Nothing was "
                                                  "changed. Use the link from your latest email.</p>")
            if path == "/unsubscribe":
                return self._unsubscribe(method, token, record, form)
            return self._preferences(method, token, record, form)

    def _unsubscribe(self, method: str, token: str, record: SubscriberRecord,
                     form: dict[str, str]) -> tuple[int, str, str]:
        if method == "POST":
            one_click = form.get("List-Unsubscribe") == "One-Click"
            self._set(record, "unsubscribed", "one-click unsubscribe" if one_click else "unsubscribe page")
            return HTTPStatus.OK, "Unsubscribed", (
                f"<p>{html.escape(record.email)} will get no more emails from {html.escape(self.newsletter)}.</p>"
                f"<p><a href=\"preferences?t={html.escape(token)}\">Changed your mind?</a></p>")
        if record.subscriber.status != "active":
            return HTTPStatus.OK, "Already unsubscribed", (
                f"<p>{html.escape(record.email)} gets no emails from {html.escape(self.newsletter)}.</p>"
                f"<p><a href=\"preferences?t={html.escape(token)}\">Preferences</a></p>")
        return HTTPStatus.OK, f"Unsubscribe from {html.escape(self.newsletter)}?", (
            f"<p>Stop sending {html.escape(self.newsletter)} to {html.escape(record.email)}?</p>"
            "<form method=\"post\" action=\"unsubscribe\">"
            f"<input type=\"hidden\" name=\"t\" value=\"{html.escape(token)}\">"
            "<button type=\"submit\">Unsubscribe</button></form>"
            f"<p><a href=\"preferences?t={html.escape(token)}\">Update preferences instead</a></p>")

    def _preferences(self, method: str, token: str, record: SubscriberRecord,
                     form: dict[str, str]) -> tuple[int, str, str]:
        note = ""
        if method == "POST":
            action = form.get("action", "")
            sid = record.subscriber.id
            if action == "save":
                subscriber_store.set_first_name(self.conn, sid, form.get("first_name", ""))
                note = "Saved."
            elif action == "unsubscribe":
                self._set(record, "unsubscribed", "preferences page")
                note = "You are unsubscribed."
            elif action == "resubscribe":
                self._set(record, "active", "resubscribed on the preferences page")
                note = "Welcome back: you are subscribed again."
            else:
                return HTTPStatus.BAD_REQUEST, "Unknown action", "<p>Nothing was changed.</p>"
            record = subscriber_store.get_subscriber(self.conn, sid) or record
        sub = record.subscriber
        t = html.escape(token)
        toggle = ("<button type=\"submit\" name=\"action\" value=\"unsubscribe\">Unsubscribe</button>"
                  if sub.status == "active" else
                  "<button type=\"submit\" name=\"action\" value=\"resubscribe\">Subscribe again</button>")
        body = (
            (f"<p><strong>{html.escape(note)}</strong></p>" if note else "")
            + f"<p>Address: {html.escape(record.email)}<br>Status: {html.escape(sub.status)}</p>"
            + f"<form method=\"post\" action=\"preferences\"><input type=\"hidden\" name=\"t\" value=\"{t}\">"
            + "<label>First name for the greeting<br><input type=\"text\" name=\"first_name\" maxlength=\"100\" "
            + f"value=\"{html.escape(sub.first_name or '')}\"></label><p>"
            + "<button type=\"submit\" name=\"action\" value=\"save\">Save</button></p></form>"
            + "<form method=\"post\" action=\"preferences\">"
            + f"<input type=\"hidden\" name=\"t\" value=\"{t}\">{toggle}</form>"
        )
        return HTTPStatus.OK, f"{html.escape(self.newsletter)}: your preferences", body

    def _set(self, record: SubscriberRecord, status: str, reason: str) -> None:
        if subscriber_store.set_status(self.conn, record.subscriber.id, status, reason):
            log.info("serve: subscriber=%d status=%s reason=%r", record.subscriber.id, status, reason)


def _handler(app: UnsubscribeApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "digest-serve"

        def do_GET(self) -> None:  # noqa: N802
            self._answer("GET", {})

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self._send(HTTPStatus.BAD_REQUEST, "Bad request", "<p>Nothing was changed.</p>")
                return
            if length > MAX_BODY:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Too large", "<p>Nothing was changed.</p>")
                return
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            self._answer("POST", {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()})

        def _answer(self, method: str, form: dict[str, str]) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            status, title, body = app.handle(method, parts.path.rstrip("/") or "/", query, form)
            self._send(status, title, body)

        def _send(self, status: int, title: str, body: str) -> None:
            page = _PAGE.format(title=title, body=body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
            log.debug("serve: %s %s", self.address_string(), format % args)

    return Handler


def make_server(config: Config, conn: Connection, *, host: str | None = None,
                port: int | None = None) -> ThreadingHTTPServer:
    """An HTTP server bound to [serve].host:port (loopback by default); call serve_forever()."""
    app = UnsubscribeApp(config, conn)
    server = ThreadingHTTPServer((host or config.serve.host, config.serve.port if port is None else port),
                                 _handler(app))
    server.daemon_threads = True
    return server


def serve(config: Config, conn: Connection, *, stop: threading.Event,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until `stop` is set."""
    server = make_server(config, conn)
    host, port = server.server_address[:2]
    if on_ready:
        on_ready(f"http://{host}:{port}/")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
