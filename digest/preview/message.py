"""What one subscriber receives, for the preview: the parts with placeholders filled, and the headers.

The delivery package owns the real message. When it offers ``build_message``
(and ``send_test``), the preview shows exactly what it builds; until then the
preview fills the placeholders itself and shows the headers it expects, with
a note saying so.
"""

from __future__ import annotations

import html
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from urllib.parse import quote

from ..config import Config
from ..models import RenderedIssue, Subscriber
from ..render import GREETING_FALLBACK, PLACEHOLDERS

log = logging.getLogger(__name__)

PREVIEW_TOKEN = "preview"  # stands in for the per-subscriber unsubscribe token
PREVIEW_SECRET = b"digest-preview"  # signs the preview's (never used) unsubscribe tokens
FALLBACK_SUBSCRIBER = Subscriber(id=0, email="reader@example.com", first_name="Reader")


@dataclass(frozen=True)
class DeliveryHooks:
    """The delivery package's functions the preview uses, each None until delivery provides it."""

    build_message: Callable[..., EmailMessage] | None = None  # (config, rendered, subscriber) -> EmailMessage
    send_test: Callable[..., object] | None = None  # (config, rendered, address)


@dataclass(frozen=True)
class PreviewMessage:
    """One subscriber's copy of the draft."""

    subscriber: Subscriber
    html: str
    text: str
    headers: tuple[tuple[str, str], ...]
    is_exact: bool  # True when the delivery package built it; False for the preview's own approximation


def find_delivery() -> DeliveryHooks:
    """Look up the delivery package's message builder and test sender; absent ones are None."""
    try:
        package = importlib.import_module("digest.deliver")
        builder = importlib.import_module("digest.deliver.message")
    except ImportError as exc:
        # Until the delivery package lands (or while it is broken) the preview works without it.
        log.info("preview without delivery: %s", exc)
        return DeliveryHooks()
    template = getattr(builder, "MessageTemplate", None)
    content = getattr(builder, "issue_content", None)
    build = None
    if template is not None and content is not None:
        def build(config: Config, rendered: RenderedIssue, subscriber: Subscriber) -> EmailMessage:
            # The real message builder; a fixed secret, as the preview's unsubscribe links are never used.
            outgoing = template(content(rendered), config.delivery, PREVIEW_SECRET).personalize(subscriber)
            return message_from_bytes(outgoing.data, policy=email_policy.default)
    return DeliveryHooks(build, getattr(package, "send_test", None))


def sample_subscribers(config: Config) -> list[Subscriber]:
    """The configured [[subscribers]], the sample one ([preview].sample_subscriber) first."""
    # id 0, as delivery's send_test uses for an address it does not know: the preview's links are never used.
    people = [Subscriber(id=0, email=s.email, first_name=s.first_name or None) for s in config.subscribers]
    wanted = config.preview.sample_subscriber.lower()
    if wanted:
        chosen = [p for p in people if p.email.lower() == wanted] or [Subscriber(id=0, email=wanted)]
        people = chosen + [p for p in people if p.email.lower() != wanted]
    return people or [FALLBACK_SUBSCRIBER]


def personalize(config: Config, rendered: RenderedIssue, subscriber: Subscriber, hooks: DeliveryHooks) -> PreviewMessage:
    """The draft as `subscriber` receives it."""
    if hooks.build_message is not None:
        message = hooks.build_message(config, rendered, subscriber)
        html_part = message.get_body(("html",))
        text_part = message.get_body(("plain",))
        return PreviewMessage(
            subscriber=subscriber,
            html=html_part.get_content() if html_part is not None else "",
            text=text_part.get_content() if text_part is not None else "",
            headers=tuple((name, str(value)) for name, value in message.items()),
            is_exact=True,
        )
    values = placeholder_values(config, subscriber)
    html_values = {k: html.escape(v) for k, v in values.items()}
    return PreviewMessage(
        subscriber=subscriber,
        html=fill(rendered.email_html, html_values),
        text=fill(rendered.text, values),
        headers=expected_headers(config, rendered, subscriber),
        is_exact=False,
    )


def placeholder_values(config: Config, subscriber: Subscriber) -> dict[str, str]:
    base = config.delivery.unsubscribe_url.rstrip("/")
    return {
        "greeting_name": subscriber.first_name or GREETING_FALLBACK,
        "unsubscribe_url": f"{base}?token={PREVIEW_TOKEN}",
        "preferences_url": f"{base}/preferences?token={PREVIEW_TOKEN}",
    }


def fill(text: str, values: dict[str, str]) -> str:
    for name, token in PLACEHOLDERS.items():
        text = text.replace(token, values.get(name, ""))
    return text


def subject_line(config: Config, rendered: RenderedIssue) -> str:
    issue = rendered.issue
    template = config.delivery.subject
    for name, value in (("headline", issue.headline), ("title", issue.title), ("date", issue.date.isoformat())):
        template = template.replace("{" + name + "}", value)
    return " ".join(template.split())


def expected_headers(config: Config, rendered: RenderedIssue, subscriber: Subscriber) -> tuple[tuple[str, str], ...]:
    """The headers delivery is expected to send (RFC 2369 / 8058 list headers included)."""
    d = config.delivery
    values = placeholder_values(config, subscriber)
    headers = [
        ("From", formataddr((d.from_name, d.from_address))),
        ("To", formataddr((subscriber.first_name or "", subscriber.email))),
        ("Subject", subject_line(config, rendered)),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", make_msgid(domain=d.from_address.rpartition("@")[2])),
    ]
    if d.reply_to:
        headers.append(("Reply-To", d.reply_to))
    headers += [
        ("List-Id", f"<{d.list_id}>"),
        ("List-Unsubscribe", f"<mailto:{d.unsubscribe_mailto}?subject={quote('unsubscribe')}>, <{values['unsubscribe_url']}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "multipart/alternative (text/plain; charset=utf-8, text/html; charset=utf-8)"),
    ]
    return tuple(headers)
