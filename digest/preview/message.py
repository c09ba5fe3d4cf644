"""What one subscriber receives, for the preview: the two parts and the headers.

Delivery owns the message: the preview asks its `MessageTemplate` for one
subscriber's message and shows exactly that, and offers its `send_test`.
Both come in through `DeliveryHooks`, so a test (or a build without delivery)
can leave them out: then the preview fills the placeholders itself
(`render.fill_placeholders`), shows no headers and no send-a-test form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

from ..config import Config
from ..deliver import MessageTemplate, issue_content, send_test
from ..models import RenderedIssue, Subscriber
from ..render import GREETING_FALLBACK, fill_placeholders

PREVIEW_TOKEN = "preview"  # stands in for the unsubscribe token when delivery does not build the message
PREVIEW_SECRET = b"digest-preview"  # signs the preview's unsubscribe tokens: its links are never used
FALLBACK_SUBSCRIBER = Subscriber(id=0, email="reader@example.com", first_name="Reader")

MessageBuilder = Callable[[Config, RenderedIssue, Subscriber], EmailMessage]
TestSender = Callable[[Config, RenderedIssue, str], object]


@dataclass(frozen=True)
class DeliveryHooks:
    """Delivery's functions the preview uses; None leaves a feature out."""

    build_message: MessageBuilder | None = None
    send_test: TestSender | None = None


@dataclass(frozen=True)
class PreviewMessage:
    """One subscriber's copy of the draft."""

    subscriber: Subscriber
    html: str
    text: str
    headers: tuple[tuple[str, str], ...]  # empty when delivery did not build the message
    is_exact: bool  # True when delivery built it


def find_delivery() -> DeliveryHooks:
    """The delivery package's message builder and test sender."""
    return DeliveryHooks(build_message=delivery_message, send_test=send_test)


def delivery_message(config: Config, rendered: RenderedIssue, subscriber: Subscriber) -> EmailMessage:
    """The message delivery would send `subscriber` (a preview secret signs its unsubscribe token)."""
    outgoing = MessageTemplate(issue_content(rendered), config.delivery, PREVIEW_SECRET).personalize(subscriber)
    return message_from_bytes(outgoing.data, policy=email_policy.default)


def sample_subscribers(config: Config) -> list[Subscriber]:
    """The configured [[subscribers]], the sample one ([preview].sample_subscriber) first."""
    # id 0, as delivery's send_test uses for an address it does not know: the preview's links are never used.
    people = [Subscriber(id=0, email=s.email, first_name=s.first_name or None) for s in config.subscribers]
    wanted = config.preview.sample_subscriber.lower()
    if wanted:
        chosen = [p for p in people if p.email.lower() == wanted] or [Subscriber(id=0, email=wanted)]
        people = chosen + [p for p in people if p.email.lower() != wanted]
    return people or [FALLBACK_SUBSCRIBER]


def personalize(config: Config, rendered: RenderedIssue, subscriber: Subscriber,
                hooks: DeliveryHooks) -> PreviewMessage:
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
    return PreviewMessage(
        subscriber=subscriber,
        html=fill_placeholders(rendered.email_html, values, is_html=True),
        text=fill_placeholders(rendered.text, values, is_html=False),
        headers=(),
        is_exact=False,
    )


def placeholder_values(config: Config, subscriber: Subscriber) -> dict[str, str]:
    """Values for `render.PLACEHOLDERS` when delivery does not fill them (and for archived issues)."""
    base = config.delivery.unsubscribe_url.rstrip("/")
    return {
        "greeting_name": subscriber.first_name or GREETING_FALLBACK,
        "unsubscribe_url": f"{base}?t={PREVIEW_TOKEN}",
        "preferences_url": f"{base.rsplit('/', 1)[0]}/preferences?t={PREVIEW_TOKEN}",
    }
