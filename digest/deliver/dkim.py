"""DKIM signing with dkimpy: a signer made once per run from the [dkim] key file.

The signed headers include List-Unsubscribe and List-Unsubscribe-Post, as
RFC 8058 requires for one-click unsubscribe to be trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dkim as dkimpy

from ..config import Config
from ..errors import DeliveryError

SIGNED_HEADERS = (
    b"from", b"reply-to", b"subject", b"date", b"message-id", b"to", b"mime-version", b"content-type",
    b"list-id", b"list-unsubscribe", b"list-unsubscribe-post",
)

log = logging.getLogger(__name__)


def make_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """A function returning the DKIM-Signature header line(s) for a message, or None when [dkim] is off."""
    settings = config.dkim
    if not settings.enabled:
        return None
    path = config.path(settings.key_file)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise DeliveryError(f"[dkim].key_file {path}: cannot read: {exc.strerror}") from None
    selector, domain = settings.selector.encode("ascii"), settings.domain.encode("ascii")

    def sign(message: bytes) -> bytes:
        try:
            return dkimpy.sign(message, selector, domain, key, include_headers=list(SIGNED_HEADERS),
                               canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n")
        except dkimpy.DKIMException as exc:
            raise DeliveryError(f"[dkim] signing failed with {path}: {exc}") from exc

    sign(b"From: check@" + domain + b"\r\nSubject: key check\r\n\r\nbody\r\n")  # a bad key fails now, not mid-run
    log.info("dkim: signing as d=%s s=%s", settings.domain, settings.selector)
    return sign
