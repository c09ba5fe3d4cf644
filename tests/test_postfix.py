"""End to end through Debian's Postfix on loopback into a Maildir (set up by tests/postfix/setup.sh)."""

from __future__ import annotations

import email
import os
import socket
import time
import uuid
from email import policy
from pathlib import Path

import pytest

from digest import pipeline, storage
from digest.storage import subscribers as subscriber_store
from tests.conftest import require
from tests.smtp_servers import SAMPLE_HTML, SAMPLE_TEXT, write_issue_folder

pytestmark = pytest.mark.postfix
INBOX = Path("/var/spool/digest-maildir/inbox/new")
KEY = "2025-01-29"


def postfix_listening() -> None:
    """Skip locally when Postfix is not set up and running; fail under CI, where .ci/run starts it."""
    require("postfix")
    try:
        socket.create_connection(("127.0.0.1", 25), timeout=2).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("postfix is not listening on 127.0.0.1:25: .ci/run must run tests/postfix/setup.sh")
        pytest.skip("postfix is not listening on 127.0.0.1:25 (sudo bash tests/postfix/setup.sh)")
    if not os.access(INBOX.parent.parent, os.R_OK | os.X_OK):
        pytest.skip(f"{INBOX} is not readable by this user")


def delivered_to(addresses: set[str], wait_seconds: float = 30) -> dict[str, list[bytes]]:
    """The Maildir messages Postfix delivered to `addresses` (it delivers asynchronously)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        found: dict[str, list[bytes]] = {}
        for path in INBOX.glob("*") if INBOX.exists() else []:
            data = path.read_bytes()
            rcpt = email.message_from_bytes(data, policy=policy.default)["Delivered-To"]
            if rcpt in addresses:
                found.setdefault(rcpt, []).append(data)
        if set(found) == addresses or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_postfix_delivers_one_message_per_subscriber_that_parses_back_into_the_issue(make_config):
    postfix_listening()
    run = uuid.uuid4().hex[:10]
    people = {f"{name}-{run}@digest.example": name.title() for name in ("ada", "grace", "linus")}
    config = make_config(delivery={"mode": "smtp"},
                         smtp={"host": "127.0.0.1", "port": 25, "security": "none", "pool_size": 2})
    write_issue_folder(config.output_dir, KEY)
    conn = storage.connect(config.db_path)
    for address, name in people.items():
        subscriber_store.add_subscriber(conn, address, name)

    report = pipeline.send(config, conn, issue_key=KEY)
    again = pipeline.send(config, conn, issue_key=KEY)
    mail = delivered_to(set(people))

    assert (report.sent, report.failed, again.sent) == (3, 0, 0)
    assert {a: len(m) for a, m in mail.items()} == {a: 1 for a in people}
    for address, (data,) in mail.items():
        msg = email.message_from_bytes(data, policy=policy.default)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                       "List-Unsubscribe-Post"):
            assert msg[header], header
        assert msg["To"].addresses[0].addr_spec == address
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")
        name = people[address]
        url = msg["List-Unsubscribe"].split(">")[0].lstrip("<")
        assert text.split("Unsubscribe: ")[0] == SAMPLE_TEXT.replace("[[digest:greeting_name]]", name).split(
            "Unsubscribe: ")[0]
        assert f"Unsubscribe: {url}\n" in text
        assert html.split("<p><a href=")[0] == SAMPLE_HTML.replace("[[digest:greeting_name]]", name).split(
            "<p><a href=")[0]
        assert f'<a href="{url}">Unsubscribe</a>' in html
