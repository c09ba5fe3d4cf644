"""Per-subscriber unsubscribe tokens: ``<id>.<HMAC-SHA256 of id and address>``, URL-safe.

The token names the subscriber and proves we issued it; it grants only
unsubscribing and editing that subscriber's preferences. The key is the
value of the environment variable named by ``[delivery].secret_env``; when
that variable is unset or empty, a random per-install secret generated once
and kept in the database is used, so outbox mode works on a fresh machine
and links stay valid between runs. Setting the variable later invalidates
links already mailed under the stored secret (rotate knowingly).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os

from ..config import DeliverySection
from ..storage import Connection
from ..storage import subscribers as subscriber_store

INSTALL_SECRET_NAME = "unsubscribe-token"
MAC_BYTES = 16  # 128-bit tag: forging one is out of reach; keeps URLs short

log = logging.getLogger(__name__)


def token_secret(settings: DeliverySection, conn: Connection) -> bytes:
    """The HMAC key: the env var [delivery].secret_env when set, else the stored per-install secret."""
    value = os.environ.get(settings.secret_env, "") if settings.secret_env else ""
    if value:
        return value.encode("utf-8")
    log.debug("no %s in the environment: using the per-install secret from the database", settings.secret_env)
    return subscriber_store.install_secret(conn, INSTALL_SECRET_NAME)


def _mac(secret: bytes, subscriber_id: int, email: str) -> str:
    message = f"unsubscribe\x00{subscriber_id}\x00{email.casefold()}".encode("utf-8")
    tag = hmac.new(secret, message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode("ascii")


def make_token(secret: bytes, subscriber_id: int, email: str) -> str:
    """The token mailed to one subscriber."""
    return f"{subscriber_id}.{_mac(secret, subscriber_id, email)}"


def token_subscriber_id(token: str) -> int | None:
    """The subscriber id a token claims (unverified), or None when malformed."""
    head, _, tag = (token or "").partition(".")
    if not head.isdigit() or not tag or len(head) > 18:
        return None
    return int(head)


def is_valid_token(secret: bytes, token: str, subscriber_id: int, email: str) -> bool:
    """True when `token` was issued for this subscriber under `secret` (constant-time comparison)."""
    if token_subscriber_id(token) != subscriber_id:
        return False
    expected = make_token(secret, subscriber_id, email)
    return hmac.compare_digest(expected.encode("ascii"), token.encode("ascii", "replace"))
