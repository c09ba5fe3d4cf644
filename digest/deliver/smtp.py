"""SMTP client side: one connection (plain, STARTTLS or implicit TLS, AUTH) and the rate caps.

`RelayConnection.transmit` runs one MAIL/RCPT/DATA transaction and calls a
hook just before writing the final "." of DATA: that is where the sender
commits "handed" to its send log, so the only moment at which a crash can
leave the log unsure is between that commit and one `sendall` of three bytes.
Replies are sorted into `TemporaryFailure` (4xx), `PermanentFailure` (5xx)
and `ConnectionLost` (with `after_final_dot` telling whether the relay may
already hold the message).
"""

from __future__ import annotations

import collections
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable

from ..config import SMTPSection
from ..errors import DeliveryError

log = logging.getLogger(__name__)

CRLF = b"\r\n"


class SMTPFailure(Exception):
    """A reply that refused one message (not raised out of `digest.deliver`)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class TemporaryFailure(SMTPFailure):
    """A 4xx reply: try again later. 421 also means the relay is closing the connection."""


class PermanentFailure(SMTPFailure):
    """A 5xx reply: this recipient will not get this message."""


class ConnectionLost(Exception):
    """The connection dropped mid-transaction; `after_final_dot` says whether "." had been written."""

    def __init__(self, message: str, *, after_final_dot: bool) -> None:
        super().__init__(message)
        self.after_final_dot = after_final_dot


def tls_context(settings: SMTPSection, ca_file: str | None) -> ssl.SSLContext:
    """A client context: system CAs (or `ca_file`), hostname check unless verify_tls is false."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def dot_stuff(data: bytes) -> bytes:
    """RFC 5321 transparency: a line starting with "." gets a second one; the data ends with CRLF."""
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed if stuffed.endswith(CRLF) else stuffed + CRLF


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _failure(code: int, reply: bytes | str, what: str) -> SMTPFailure:
    text = f"{what}: {_reply_text(reply)}"
    return TemporaryFailure(code, text) if 400 <= code < 500 or code == -1 else PermanentFailure(code, text)


class RelayConnection:
    """One SMTP session to the relay, opened lazily and reopened after a drop."""

    def __init__(self, settings: SMTPSection, *, password: str | None, context: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.password = password
        self.context = context
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, say EHLO, STARTTLS when configured, AUTH when a username is set.

        Network errors raise ConnectionLost (worth retrying); a refused TLS or AUTH raises DeliveryError.
        """
        s = self.settings
        where = f"{s.host}:{s.port}"
        if s.username and self.password is None:
            raise DeliveryError(f"[smtp].username is set but the environment variable {s.password_env} "
                                "([smtp].password_env) is not")
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=self.context)
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            # The final "." goes out in its own write after the send-log commit: without NODELAY, Nagle's
            # algorithm would hold it until the relay's delayed ACK (~40 ms per message).
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise DeliveryError(f"SMTP relay {where} does not offer STARTTLS ([smtp].security = \"starttls\")")
                smtp.starttls(context=self.context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP relay {where} refused AUTH for {s.username!r}: "
                                f"{exc.smtp_code} {_reply_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"SMTP relay {where}: {exc}") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"SMTP relay {where}: TLS failed: {exc.reason or exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise ConnectionLost(f"SMTP relay {where} refused the session: {exc.smtp_code} "
                                 f"{_reply_text(exc.smtp_error)}", after_final_dot=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ConnectionLost(f"cannot connect to SMTP relay {where}: {exc}", after_final_dot=False) from None
        self._smtp = smtp
        log.debug("smtp: connected to %s (%s)", where, s.security)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def abort(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def transmit(self, sender: str, recipient: str, data: bytes, before_final_dot: Callable[[], None]) -> str:
        """Run one transaction; return the relay's final reply. Raises SMTPFailure or ConnectionLost."""
        if self._smtp is None:
            self.open()
        smtp = self._smtp
        assert smtp is not None
        payload = dot_stuff(data)
        after_dot = False
        try:
            if smtp.has_extn("pipelining"):
                smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
                replies = [smtp.getreply(), smtp.getreply(), smtp.getreply()]
            else:
                replies = [smtp.mail(sender)]
                if replies[0][0] == 250:
                    replies.append(smtp.rcpt(recipient))
                    if replies[1][0] in (250, 251):
                        replies.append(smtp.docmd("DATA"))
            steps = (((250,), "MAIL FROM"), ((250, 251), "RCPT TO"), ((354,), "DATA"))
            for (code, reply), (expected, what) in zip(replies, steps, strict=False):  # stops at a refusal
                if code not in expected:
                    if len(replies) == 3 and replies[2][0] == 354:
                        # A pipelined DATA was accepted although an earlier step failed: ending it with "."
                        # could deliver an empty message, so drop the session instead.
                        self.abort()
                    else:
                        self._reset(code)
                    raise _failure(code, reply, what)
            smtp.send(payload)
            before_final_dot()
            after_dot = True
            smtp.sock.sendall(b".\r\n")
            code, reply = smtp.getreply()
        except SMTPFailure:
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.abort()
            raise ConnectionLost(f"connection to {self.settings.host}:{self.settings.port} lost: {exc}",
                                 after_final_dot=after_dot) from None
        if code != 250:
            self._reset(code)
            raise _failure(code, reply, "end of DATA")
        return _reply_text(reply)

    def _reset(self, code: int) -> None:
        """After a refusal: RSET, or drop the session when the relay is closing it (421)."""
        if code == 421 or self._smtp is None:
            self.abort()
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.abort()


class RateLimiter:
    """Caps per second (evenly paced) and per hour (sliding window); shared by all connections."""

    def __init__(self, per_second: float, per_hour: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.per_hour = per_hour
        self.clock = clock
        self._next = 0.0
        self._hour: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot; return how many seconds to wait before using it (0 for now)."""
        with self._lock:
            now = self.clock()
            at = max(now, self._next)
            if self.per_hour:
                while self._hour and self._hour[0] <= at - 3600:
                    self._hour.popleft()
                if len(self._hour) >= self.per_hour:
                    at = max(at, self._hour[0] + 3600)
                    self._hour.popleft()
                self._hour.append(at)
            self._next = at + self.interval
            return at - now

    def wait(self, stop: threading.Event) -> bool:
        """Block until the next slot; False when `stop` was set meanwhile."""
        delay = self.reserve()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()
