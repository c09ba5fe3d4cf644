"""One MIME message per subscriber, by substitution into the issue rendered once.

The shared parts (From, Subject, List-Id, the MIME skeleton) are encoded once
per issue, and so are the two bodies, quoted-printable encoded once with the
placeholders of ``digest.render`` left as slots. Per subscriber only the
values are encoded (HTML-escaped in the HTML part) and joined in, and the
personal headers (To, Date, Message-ID, List-Unsubscribe) are added. The result is CRLF
bytes, ready for SMTP DATA or an .eml file. Every header value passes
through `one_line`, so a CR or LF in a name or headline can never start a
header of its own.
"""

from __future__ import annotations

import binascii
import html
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.utils import formataddr, formatdate
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from ..config import DeliverySection
from ..errors import DeliveryError
from ..models import RenderedIssue, Subscriber
from .tokens import make_token

# The placeholders of the rendered issue (digest.render.PLACEHOLDERS), repeated here
# so delivery does not import another stage.
GREETING = "[[digest:greeting_name]]"
UNSUBSCRIBE = "[[digest:unsubscribe_url]]"
PREFERENCES = "[[digest:preferences_url]]"
DEFAULT_GREETING_NAME = "readers"
ONE_CLICK = "List-Unsubscribe=One-Click"
_SPACES = re.compile(r"[\s\x00-\x1f\x7f\u2028\u2029]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]*$")  # atext and spaces: no quoting, no encoding


def one_line(value: str) -> str:
    """Collapse every run of whitespace and control characters (CR, LF, NUL...) into one space."""
    return _SPACES.sub(" ", value).strip()


@dataclass(frozen=True)
class IssueContent:
    """What delivery needs of a built issue: its identity and its two personalizable bodies."""

    key: str
    date: str
    title: str
    headline: str
    subtitle: str
    html: str
    text: str


def issue_content(rendered: RenderedIssue) -> IssueContent:
    issue = rendered.issue
    return IssueContent(key=issue.key, date=issue.date.isoformat(), title=issue.title, headline=issue.headline,
                        subtitle=issue.subtitle, html=rendered.email_html, text=rendered.text)


def load_issue(folder: Path) -> IssueContent:
    """Read a built issue from out/<key>/ (email.html, digest.txt, digest.json of the render stage)."""
    try:
        meta = json.loads((folder / "digest.json").read_text(encoding="utf-8"))
        html_text = (folder / "email.html").read_text(encoding="utf-8")
        text = (folder / "digest.txt").read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DeliveryError(f"{exc.filename}: missing: build the issue first (digest build)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeliveryError(f"{folder}: cannot read the built issue: {exc}") from None
    if not isinstance(meta, dict) or not meta.get("key"):
        raise DeliveryError(f"{folder / 'digest.json'}: no issue key")
    return IssueContent(key=str(meta["key"]), date=str(meta.get("date", meta["key"])), title=str(meta.get("title", "")),
                        headline=str(meta.get("headline", "")), subtitle=str(meta.get("subtitle", "")),
                        html=html_text, text=text)


@dataclass(frozen=True)
class OutgoingMessage:
    """One subscriber's message: CRLF bytes as they go into DATA (before dot-stuffing)."""

    subscriber: Subscriber
    message_id: str
    data: bytes


def subject_line(settings: DeliverySection, content: IssueContent, prefix: str = "") -> str:
    """The Subject from the [delivery].subject template, on one line."""
    subject = settings.subject.format(headline=one_line(content.headline), title=one_line(content.title),
                                      date=content.date)
    return one_line(prefix + subject) or one_line(content.title) or content.key


def unsubscribe_links(settings: DeliverySection, token: str) -> tuple[str, str]:
    """(one-click unsubscribe URL, preferences URL) for a token; preferences is the sibling path."""
    parts = urlsplit(settings.unsubscribe_url)
    query = f"t={quote(token, safe='')}"
    unsubscribe = urlunsplit((parts.scheme, parts.netloc, parts.path, _join_query(parts.query, query), ""))
    base = parts.path.rsplit("/", 1)[0]
    preferences = urlunsplit((parts.scheme, parts.netloc, f"{base}/preferences", query, ""))
    return unsubscribe, preferences


def _join_query(existing: str, extra: str) -> str:
    return f"{existing}&{extra}" if existing else extra


def _header(name: str, value: str) -> bytes:
    """A header line, folded and RFC 2047-encoded by the SMTP policy when needed."""
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode("ascii")
    return policy.SMTP.header_factory(name, value).fold(policy=policy.SMTP).encode("ascii")


def _address_header(name: str, display: str | None, address: str) -> bytes:
    if not display:
        return _header(name, address)
    if _PLAIN_NAME.match(display) and len(display) + len(address) < 60:
        return f"{name}: {formataddr((display, address))}\r\n".encode("ascii")
    return _header(name, formataddr((display, address)))


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF line ends. `text` must use "\\n" line ends: b2a_qp picks CRLF or LF
    from the first line end it sees, so a piece without CRLF would get bare-LF soft breaks."""
    return binascii.b2a_qp(text.encode("utf-8"), quotetabs=False, istext=True, header=False).replace(b"\n", b"\r\n")


_PLACEHOLDER = re.compile(r"(\[\[digest:(?:greeting_name|unsubscribe_url|preferences_url)\]\])")
SOFT_BREAK = b"=\r\n"  # quoted-printable line break that decodes to nothing


def _qp_segments(text: str) -> list[bytes | str]:
    """The body quoted-printable encoded once, placeholders left as str slots.

    Each encoded piece ends with a soft line break, so a value encoded on its own
    later starts on a fresh line and the lines stay within 76 characters.
    """
    pieces = _PLACEHOLDER.split(text)
    out: list[bytes | str] = []
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(piece)
        elif i < len(pieces) - 1:
            out.append(_qp(piece) + SOFT_BREAK)
        else:
            out.append(_qp(piece))
    return out


def _fill(segments: list[bytes | str], values: dict[str, bytes]) -> bytes:
    return b"".join(values[s] if isinstance(s, str) else s for s in segments)


def _lf(text: str) -> str:
    text = _NEWLINES.sub("\n", text)
    return text if text.endswith("\n") else text + "\n"


class MessageTemplate:
    """An issue ready to be personalized: `personalize(subscriber)` returns that subscriber's message."""

    def __init__(self, content: IssueContent, settings: DeliverySection, secret: bytes, *,
                 sign: Callable[[bytes], bytes] | None = None, subject_prefix: str = "") -> None:
        self.content = content
        self.settings = settings
        self.secret = secret
        self.sign = sign
        self.subject = subject_line(settings, content, subject_prefix)
        self.domain = settings.from_address.rpartition("@")[2]
        self.boundary = f"=_digest_{secrets.token_hex(12)}"
        self._html = _qp_segments(_lf(content.html))
        self._text = _qp_segments(_lf(content.text))
        list_name = one_line(content.title or settings.from_name)
        shared = [
            _address_header("From", one_line(settings.from_name), settings.from_address),
            _address_header("Reply-To", None, settings.reply_to) if settings.reply_to else b"",
            _header("Subject", self.subject),
            _header("List-Id", f"{list_name} <{settings.list_id}>" if list_name else f"<{settings.list_id}>"),
            f"List-Unsubscribe-Post: {ONE_CLICK}\r\n".encode("ascii"),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"\r\n'.encode("ascii"),
        ]
        self._shared_headers = b"".join(shared)
        part = 'Content-Type: text/{};\r\n charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        self._text_head = f"--{self.boundary}\r\n{part.format('plain')}".encode("ascii")
        self._html_head = f"\r\n--{self.boundary}\r\n{part.format('html')}".encode("ascii")
        self._tail = f"\r\n--{self.boundary}--\r\n".encode("ascii")

    def personalize(self, subscriber: Subscriber) -> OutgoingMessage:
        token = make_token(self.secret, subscriber.id, subscriber.email)
        unsubscribe_url, preferences_url = unsubscribe_links(self.settings, token)
        name = one_line(subscriber.first_name or "") or DEFAULT_GREETING_NAME
        text_values = {GREETING: name, UNSUBSCRIBE: unsubscribe_url, PREFERENCES: preferences_url}
        text = {k: _qp(v) + SOFT_BREAK for k, v in text_values.items()}
        body_html = {k: _qp(html.escape(v)) + SOFT_BREAK for k, v in text_values.items()}
        message_id = f"<{self.content.key}.{subscriber.id}.{secrets.token_hex(8)}@{self.domain}>"
        mailto = f"mailto:{self.settings.unsubscribe_mailto}?subject=unsubscribe%20{quote(token, safe='')}"
        headers = b"".join((
            _address_header("To", one_line(subscriber.first_name or ""), subscriber.email),
            f"Date: {formatdate(usegmt=True)}\r\nMessage-ID: {message_id}\r\n".encode("ascii"),
            f"List-Unsubscribe: <{unsubscribe_url}>,\r\n <{mailto}>\r\n".encode("ascii"),
            self._shared_headers,
        ))
        data = b"".join((headers, b"\r\n", self._text_head, _fill(self._text, text), self._html_head,
                         _fill(self._html, body_html), self._tail))
        if self.sign is not None:
            data = self.sign(data) + data
        return OutgoingMessage(subscriber=subscriber, message_id=message_id, data=data)
