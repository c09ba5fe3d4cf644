"""SMTP delivery against real aiosmtpd servers in their own processes (tests/smtp_servers.py)."""

from __future__ import annotations

import email
import threading
from email import policy

import pytest

from digest import pipeline, storage
from digest.deliver.smtp import RateLimiter
from digest.errors import DeliveryError
from digest.storage import sendlog
from digest.storage import subscribers as subscriber_store
from tests.smtp_servers import SAMPLE_TEXT, make_certificate, start_server, write_issue_folder

KEY = "2025-01-29"


@pytest.fixture
def servers():
    running = []

    def start(tmp_path, *options):
        server = start_server(tmp_path / f"received-{len(running)}.jsonl", *options)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


def smtp_config(make_config, port, **smtp):
    settings = {"host": "127.0.0.1", "port": port, "security": "none", "pool_size": 2, "retry_backoff_seconds": 0.05,
                "max_retries": 3, "timeout_seconds": 10.0}
    settings.update(smtp)
    return make_config(delivery={"mode": "smtp"}, smtp=settings)


def add_people(conn, *emails):
    return [subscriber_store.add_subscriber(conn, e, e.split("@")[0].title())[0].subscriber for e in emails]


def prepared(config, *emails):
    write_issue_folder(config.output_dir, KEY)
    conn = storage.connect(config.db_path)
    add_people(conn, *emails)
    return conn


PEOPLE = [f"reader{i}@example.com" for i in range(1, 7)]


def test_starttls_with_auth_delivers_each_subscriber_one_crlf_message_that_parses_back(make_config, tmp_path, servers,
                                                                                       monkeypatch):
    cert, key = make_certificate(tmp_path)
    server = servers(tmp_path, "--tls", "starttls", "--cert", str(cert), "--key", str(key), "--auth", "digest:s3cret")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "s3cret")
    config = smtp_config(make_config, server.port, security="starttls", username="digest", ca_file=str(cert))
    conn = prepared(config, *PEOPLE)

    report = pipeline.send(config, conn, issue_key=KEY)

    assert (report.sent, report.failed, report.retried, report.skipped) == (6, 0, 0, 0)
    assert server.received_counts() == {p: 1 for p in PEOPLE}
    for received in server.messages():
        data = received["data"]
        assert b"\n" not in data.replace(b"\r\n", b""), "bare LF on the wire"
        assert b"\r\n..a line that starts with a dot" not in data  # the server un-stuffed it
        msg = email.message_from_bytes(data, policy=policy.default)
        rcpt = received["to"][0]
        assert msg["To"].addresses[0].addr_spec == rcpt
        for header in ("From", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert msg[header], header
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text.startswith(SAMPLE_TEXT.split("[[")[0].replace("\n\n", "\n\n"))
        assert f"Good morning, {rcpt.split('@')[0].title()}." in text
        assert ".a line that starts with a dot (SMTP must stuff it)\n" in text
    assert sendlog.counts(conn, KEY) == {"sent": 6}


def test_implicit_tls_delivers(make_config, tmp_path, servers):
    cert, key = make_certificate(tmp_path)
    server = servers(tmp_path, "--tls", "implicit", "--cert", str(cert), "--key", str(key))
    config = smtp_config(make_config, server.port, security="tls", ca_file=str(cert))
    conn = prepared(config, *PEOPLE[:2])

    report = pipeline.send(config, conn, issue_key=KEY)

    assert report.sent == 2
    assert server.received_counts() == {PEOPLE[0]: 1, PEOPLE[1]: 1}


def test_an_untrusted_certificate_stops_the_run_and_sends_nothing(make_config, tmp_path, servers):
    cert, key = make_certificate(tmp_path)
    server = servers(tmp_path, "--tls", "starttls", "--cert", str(cert), "--key", str(key))
    config = smtp_config(make_config, server.port, security="starttls")  # no ca_file: system CAs only
    conn = prepared(config, *PEOPLE[:2])

    with pytest.raises(DeliveryError, match="TLS failed"):
        pipeline.send(config, conn, issue_key=KEY)
    assert server.received_counts() == {}
    assert sendlog.counts(conn, KEY) == {"queued": 2}


def test_a_refused_password_is_one_error_and_nothing_is_marked_sent(make_config, tmp_path, servers, monkeypatch):
    cert, key = make_certificate(tmp_path)
    server = servers(tmp_path, "--tls", "starttls", "--cert", str(cert), "--key", str(key), "--auth", "digest:s3cret")
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", "wrong")
    config = smtp_config(make_config, server.port, security="starttls", username="digest", ca_file=str(cert))
    conn = prepared(config, *PEOPLE[:3])

    with pytest.raises(DeliveryError, match=r"refused AUTH for 'digest': 535"):
        pipeline.send(config, conn, issue_key=KEY)
    assert sendlog.counts(conn, KEY) == {"queued": 3}


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelined"])
def test_4xx_is_retried_with_backoff_5xx_fails_that_recipient_and_the_run_goes_on(make_config, tmp_path, servers,
                                                                                  pipelining):
    server = servers(tmp_path, "--fail", "later@example.com=451:2", "--fail", "closing@example.com=421:1",
                     "--fail", "gone@example.com=550", *(["--pipelining"] if pipelining else []))
    config = smtp_config(make_config, server.port)
    conn = prepared(config, "later@example.com", "closing@example.com", "gone@example.com", *PEOPLE[:3])

    report = pipeline.send(config, conn, issue_key=KEY)

    assert (report.sent, report.retried, report.failed) == (5, 3, 1)
    assert report.failures == [("gone@example.com", "550 RCPT TO: 5.1.1 no such user")]
    assert server.received_counts() == {"later@example.com": 1, "closing@example.com": 1, **{p: 1 for p in PEOPLE[:3]}}
    assert {e.email: (e.status, e.attempts) for e in sendlog.entries(conn, KEY)}["later@example.com"] == ("sent", 1)
    gone = subscriber_store.find_subscriber(conn, "gone@example.com")
    assert (gone.subscriber.status, gone.failures) == ("active", 1)


def test_a_recipient_is_marked_bounced_after_bounce_after_permanent_failures(make_config, tmp_path, servers):
    server = servers(tmp_path, "--fail", "gone@example.com=550")
    config = smtp_config(make_config, server.port)
    config = type(config)(**{**config.__dict__,
                             "delivery": type(config.delivery)(**{**config.delivery.__dict__, "bounce_after": 2})})
    conn = prepared(config, "gone@example.com", PEOPLE[0])

    first = pipeline.send(config, conn, issue_key=KEY)
    write_issue_folder(config.output_dir, "2025-01-30")
    second = pipeline.send(config, conn, issue_key="2025-01-30")
    write_issue_folder(config.output_dir, "2025-01-31")
    third = pipeline.send(config, conn, issue_key="2025-01-31")

    assert (first.failed, second.failed, second.bounced, third.failed, third.total) == (1, 1, 1, 0, 1)
    gone = subscriber_store.find_subscriber(conn, "gone@example.com")
    assert gone.subscriber.status == "bounced"
    assert gone.status_reason == "2 permanent failures, last: 550 RCPT TO: 5.1.1 no such user"
    assert server.received_counts() == {PEOPLE[0]: 3}


def test_a_retry_gives_up_after_max_retries(make_config, tmp_path, servers):
    server = servers(tmp_path, "--fail", "later@example.com=451")
    config = smtp_config(make_config, server.port, max_retries=2)
    conn = prepared(config, "later@example.com")

    report = pipeline.send(config, conn, issue_key=KEY)

    assert (report.sent, report.retried, report.failed) == (0, 2, 1)
    assert report.failures == [("later@example.com", "451 RCPT TO: 4.0.0 try later (after 3 attempts)")]


def test_a_dropped_connection_is_reopened_and_everyone_gets_one_copy(make_config, tmp_path, servers):
    server = servers(tmp_path, "--drop-at-mail", "4")
    config = smtp_config(make_config, server.port, pool_size=1)
    conn = prepared(config, *PEOPLE)

    report = pipeline.send(config, conn, issue_key=KEY)

    assert (report.sent, report.failed, report.uncertain, report.reconnects) == (6, 0, 0, 1)
    assert server.received_counts() == {p: 1 for p in PEOPLE}


def test_a_drop_after_the_final_dot_is_uncertain_and_never_resent(make_config, tmp_path, servers):
    server = servers(tmp_path, "--drop-after-data", "2")
    config = smtp_config(make_config, server.port, pool_size=1)
    conn = prepared(config, *PEOPLE[:4])

    first = pipeline.send(config, conn, issue_key=KEY)
    second = pipeline.send(config, conn, issue_key=KEY)

    assert (first.sent, first.uncertain) == (3, 1)
    assert (second.sent, second.uncertain, second.skipped) == (0, 1, 3)
    assert server.received_counts() == {p: 1 for p in PEOPLE[:4]}
    assert sendlog.counts(conn, KEY) == {"sent": 3, "uncertain": 1}
    (uncertain,) = sendlog.entries(conn, KEY, "uncertain")

    forced = pipeline.send(config, conn, issue_key=KEY, resend_uncertain=True)  # the operator's choice

    assert (forced.sent, forced.uncertain) == (1, 0)
    assert server.received_counts()[uncertain.email] == 2


def test_rerunning_sends_to_nobody_twice_and_to_the_new_subscriber(make_config, tmp_path, servers):
    server = servers(tmp_path)
    config = smtp_config(make_config, server.port)
    conn = prepared(config, *PEOPLE[:3])

    pipeline.send(config, conn, issue_key=KEY)
    add_people(conn, "late@example.com")
    again = pipeline.send(config, conn, issue_key=KEY)

    assert (again.sent, again.skipped) == (1, 3)
    assert server.received_counts() == {**{p: 1 for p in PEOPLE[:3]}, "late@example.com": 1}


def test_an_unsubscribed_address_is_not_mailed_even_when_queued_earlier(make_config, tmp_path, servers):
    server = servers(tmp_path)
    config = smtp_config(make_config, server.port)
    conn = prepared(config, *PEOPLE[:3])
    stop = threading.Event()
    stop.set()  # a run that queues everyone, then stops before sending
    pipeline.send(config, conn, issue_key=KEY, stop=stop)
    quitter = subscriber_store.find_subscriber(conn, PEOPLE[1])
    subscriber_store.set_status(conn, quitter.subscriber.id, "unsubscribed", "one-click unsubscribe")

    report = pipeline.send(config, conn, issue_key=KEY)

    assert (report.sent, report.skipped) == (2, 1)
    assert server.received_counts() == {PEOPLE[0]: 1, PEOPLE[2]: 1}


def test_an_unreachable_relay_is_an_error_and_the_queue_waits_for_the_next_run(make_config, tmp_path, servers):
    server = servers(tmp_path)
    port = server.port
    server.stop()
    config = smtp_config(make_config, port, max_retries=1, pool_size=1)
    conn = prepared(config, *PEOPLE[:2])

    with pytest.raises(DeliveryError, match=rf"127.0.0.1:{port} unreachable"):
        pipeline.send(config, conn, issue_key=KEY)
    assert sendlog.counts(conn, KEY) == {"queued": 2}


def test_rate_limiter_paces_per_second_and_holds_to_the_hourly_quota():
    now = [1000.0]
    limiter = RateLimiter(per_second=4, per_hour=6, clock=lambda: now[0])

    waits = [limiter.reserve() for _ in range(7)]

    assert waits == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 3600.0]


def rendered_issue():
    from datetime import date

    from digest.models import Issue, RenderedIssue
    from tests.smtp_servers import SAMPLE_HTML

    issue = Issue(key=KEY, date=date(2025, 1, 29), title="Tech Rundown", headline="DeepSeek rattles Silicon Valley",
                  subtitle="A $6M model", stories=())
    return RenderedIssue(issue=issue, archive_html="", email_html=SAMPLE_HTML, text=SAMPLE_TEXT, mjml="", json="{}")


def test_send_test_mails_the_draft_to_one_address_with_a_test_subject_outside_the_send_log(make_config, tmp_path,
                                                                                          servers):
    from digest.deliver import send_test

    server = servers(tmp_path)
    config = smtp_config(make_config, server.port)
    conn = prepared(config, "ada@example.com")

    send_test(config, rendered_issue(), "Ada@Example.com")

    (received,) = server.messages()
    msg = email.message_from_bytes(received["data"], policy=policy.default)
    assert received["to"] == ["Ada@example.com"]
    assert msg["Subject"] == "[TEST] DeepSeek rattles Silicon Valley"
    assert "Good morning, Ada." in msg.get_body(("plain",)).get_content()
    assert sendlog.counts(conn, KEY) == {}


def test_send_test_in_outbox_mode_writes_a_test_file(make_config, tmp_path):
    from digest.deliver import send_test

    config = make_config()

    send_test(config, rendered_issue(), "someone@example.com")

    (path,) = (tmp_path / "var" / "outbox").glob("test_*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["To"] == "someone@example.com"
    assert "Good morning, readers." in msg.get_body(("plain",)).get_content()
