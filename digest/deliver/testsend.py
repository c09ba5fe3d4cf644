"""`send_test`: one message of the current draft to one address, outside the send log."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from .. import storage
from ..config import Config
from ..errors import DeliveryError
from ..models import RenderedIssue, Subscriber
from ..storage import subscribers as subscriber_store
from .dkim import make_signer
from .message import MessageTemplate, issue_content
from .outbox import write_message
from .smtp import ConnectionLost, RelayConnection, SMTPFailure, tls_context
from .tokens import token_secret

TEST_PREFIX = "[TEST] "

log = logging.getLogger(__name__)


def send_test(config: Config, rendered: RenderedIssue, address: str) -> None:
    """Send the draft to `address` ([delivery].mode decides: outbox file or SMTP), Subject prefixed "[TEST] ".

    Personalized as for that subscriber when the address is one (so its links work), else as a
    stranger whose unsubscribe link does nothing. Not recorded in the send log.
    """
    email = subscriber_store.normalize_email(address)
    conn = storage.connect(config.db_path)
    try:
        record = subscriber_store.find_subscriber(conn, email)
        secret = token_secret(config.delivery, conn)
    finally:
        conn.close()
    subscriber = record.subscriber if record else Subscriber(id=0, email=email)
    template = MessageTemplate(issue_content(rendered), config.delivery, secret, sign=make_signer(config),
                               subject_prefix=TEST_PREFIX)
    message = template.personalize(subscriber)
    if config.delivery.mode == "outbox":
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = write_message(config.path(config.delivery.outbox_dir), f"test_{stamp}.eml", message.data)
        log.info("send_test: wrote %s", path)
        return
    settings = config.smtp
    context = (tls_context(settings, str(config.path(settings.ca_file)) if settings.ca_file else None)
               if settings.security != "none" else None)
    relay = RelayConnection(settings, password=settings.password, context=context)
    try:
        relay.transmit(config.delivery.from_address, email, message.data, lambda: None)
    except (SMTPFailure, ConnectionLost) as exc:
        raise DeliveryError(f"test message to {email} not accepted: {exc}") from None
    finally:
        relay.close()
    log.info("send_test: relay accepted the test message to %s", email)
