"""Messages: one MIME message per subscriber by substitution, headers by the rules, DKIM, tokens, outbox."""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from digest import pipeline, storage
from digest.deliver import MessageTemplate
from digest.deliver.dkim import make_signer
from digest.deliver.tokens import is_valid_token, make_token, token_secret
from digest.models import Subscriber
from digest.storage import sendlog
from digest.storage import subscribers as subscriber_store
from tests.smtp_servers import SAMPLE_HTML, SAMPLE_TEXT, sample_content, write_issue_folder

SECRET = b"test-secret"


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def body(msg: email.message.EmailMessage, kind: str) -> str:
    """A text part's content with the canonical CRLF line ends of MIME read as newlines."""
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")


def build(config, subscriber: Subscriber, **kwargs) -> bytes:
    return MessageTemplate(sample_content(), config.delivery, SECRET, **kwargs).personalize(subscriber).data


def test_message_parses_back_into_the_same_text_and_html_with_every_required_header(make_config):
    config = make_config(delivery={"reply_to": "editor@example.com", "subject": "{title}: {headline}"})
    msg = parse(build(config, Subscriber(7, "ada@example.com", "Ada")))

    token = make_token(SECRET, 7, "ada@example.com")
    url = f"http://127.0.0.1:8026/unsubscribe?t={token}"
    prefs = f"http://127.0.0.1:8026/preferences?t={token}"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["From"] == "Tech Rundown <digest@example.com>"
    assert msg["To"] == "Ada <ada@example.com>"
    assert msg["Reply-To"] == "editor@example.com"
    assert msg["Subject"] == "Tech Rundown: DeepSeek\u2019s R1 rattles Silicon Valley"
    assert msg["Date"] and msg["Date"].datetime.tzinfo is not None
    assert re.fullmatch(r"<2025-01-29\.7\.[0-9a-f]{16}@example\.com>", msg["Message-ID"])
    assert msg["List-Id"] == "Tech Rundown <tech-rundown.example.com>"
    assert msg["List-Unsubscribe"] == f"<{url}>, <mailto:unsubscribe@example.com?subject=unsubscribe%20{token}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = body(msg, "plain"), body(msg, "html")
    expected = (SAMPLE_TEXT.replace("[[digest:greeting_name]]", "Ada").replace("[[digest:unsubscribe_url]]", url)
                .replace("[[digest:preferences_url]]", prefs))
    assert text == expected
    assert html == (SAMPLE_HTML.replace("[[digest:greeting_name]]", "Ada").replace("[[digest:unsubscribe_url]]", url)
                    .replace("[[digest:preferences_url]]", prefs))


def test_every_line_ends_in_crlf_and_fits_the_smtp_line_limit(config):
    data = build(config, Subscriber(1, "ada@example.com", "Ada"))

    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    head, _, mime_body = data.partition(b"\r\n\r\n")
    assert max(len(line) for line in head.split(b"\r\n")) <= 998  # a URL in List-Unsubscribe cannot be folded
    assert max(len(line) for line in mime_body.split(b"\r\n")) <= 76  # quoted-printable lines
    assert data.isascii()


def test_a_long_line_between_placeholders_is_wrapped_with_crlf_soft_breaks(config):
    content = sample_content()
    one_line_html = ("<p>Hi [[digest:greeting_name]].</p>" + "<td>cell</td>" * 300
                     + '<a href="[[digest:unsubscribe_url]]">x</a>')
    long = type(content)(**{**content.__dict__, "html": one_line_html, "text": "no newline at all " * 30})
    data = MessageTemplate(long, config.delivery, SECRET).personalize(Subscriber(1, "ada@example.com", "Ada")).data

    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.partition(b"\r\n\r\n")[2].split(b"\r\n")) <= 76
    assert body(parse(data), "html").startswith("<p>Hi Ada.</p><td>cell</td><td>cell</td>")
    assert body(parse(data), "plain") == "no newline at all " * 30 + "\n"


def test_greeting_falls_back_to_readers_and_names_are_html_escaped_in_the_html_part_only(config):
    anonymous = parse(build(config, Subscriber(1, "x@example.com", None)))
    tricky = parse(build(config, Subscriber(2, "y@example.com", "<b>Bo & Co</b>")))

    assert "Good morning, readers." in body(anonymous, "plain")
    assert "<p>Good morning, readers.</p>" in body(anonymous, "html")
    assert "Good morning, <b>Bo & Co</b>." in body(tricky, "plain")
    assert "<p>Good morning, &lt;b&gt;Bo &amp; Co&lt;/b&gt;.</p>" in body(tricky, "html")


def test_cr_lf_in_a_name_or_headline_cannot_add_a_header(make_config):
    config = make_config()
    content = sample_content()
    evil = type(content)(**{**content.__dict__, "headline": "News\r\nBcc: victim@example.org"})
    data = MessageTemplate(evil, config.delivery, SECRET).personalize(
        Subscriber(3, "eve@example.com", "Eve\r\nBcc: victim@example.org\nX-Evil: 1")).data
    msg = parse(data)

    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == "News Bcc: victim@example.org"
    assert msg["To"].addresses[0].addr_spec == "eve@example.com"
    assert len(msg.get_all("To")) == 1


def test_non_ascii_names_and_subjects_are_encoded_words_that_decode_back(make_config):
    config = make_config(delivery={"from_name": "Tëch Rundown"})
    data = build(config, Subscriber(4, "jose@example.com", "José"))
    msg = parse(data)

    assert data.isascii()
    assert msg["To"].addresses[0].display_name == "José"
    assert msg["From"].addresses[0].display_name == "Tëch Rundown"
    assert msg["Subject"] == "DeepSeek\u2019s R1 rattles Silicon Valley"


def test_a_token_opens_only_its_own_subscribers_door():
    token = make_token(SECRET, 5, "ada@example.com")

    assert is_valid_token(SECRET, token, 5, "ADA@example.com")
    assert not is_valid_token(SECRET, token, 6, "ada@example.com")
    assert not is_valid_token(SECRET, token, 5, "bob@example.com")
    assert not is_valid_token(b"another secret", token, 5, "ada@example.com")
    assert not is_valid_token(SECRET, token[:-1] + ("A" if token[-1] != "A" else "B"), 5, "ada@example.com")


def test_without_the_env_var_a_per_install_secret_is_made_once_and_the_env_var_overrides_it(config, db, monkeypatch):
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    first = token_secret(config.delivery, db)
    again = token_secret(config.delivery, db)
    monkeypatch.setenv("DIGEST_SECRET", "from the environment")

    assert len(first) == 32 and first == again
    assert token_secret(config.delivery, db) == b"from the environment"


def test_dkim_signature_verifies_and_covers_the_list_unsubscribe_headers(make_config, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "dkim.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                                          serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + __import__("base64").b64encode(public)
    asked = []

    def dns(name, timeout=5):
        asked.append(name)
        return record if name == b"mail._domainkey.example.com." else None

    config = make_config(dkim={"enabled": True, "domain": "example.com", "selector": "mail", "key_file": "dkim.pem"})
    data = build(config, Subscriber(1, "ada@example.com", "Ada"), sign=make_signer(config))
    signature = parse(data)["DKIM-Signature"]
    signed = {h.strip().lower() for h in re.search(r"h=([^;]+)", re.sub(r"\s+", "", signature)).group(1).split(":")}

    assert dkimpy.verify(data, dnsfunc=dns)
    assert asked == [b"mail._domainkey.example.com."]
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject", "to", "list-id"} <= signed
    tampered = data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                            b"List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks")
    assert not dkimpy.verify(tampered, dnsfunc=dns)


def test_outbox_writes_one_eml_per_active_subscriber_and_a_rerun_adds_none(make_config, tmp_path, monkeypatch):
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    config = make_config(subscribers=[{"email": "ada@example.com", "first_name": "Ada"},
                                      {"email": "grace@example.com"}])
    write_issue_folder(config.output_dir)
    conn = storage.connect(config.db_path)
    first = pipeline.send(config, conn, issue_key="2025-01-29")
    second = pipeline.send(config, conn, issue_key="2025-01-29")
    files = sorted(p.name for p in (tmp_path / "var" / "outbox").iterdir())

    assert (first.sent, first.skipped, second.sent, second.skipped) == (2, 0, 0, 2)
    assert files == ["2025-01-29_000001_ada@example.com.eml", "2025-01-29_000002_grace@example.com.eml"]
    msg = parse((tmp_path / "var" / "outbox" / files[0]).read_bytes())
    assert "Good morning, Ada." in body(msg, "plain")
    assert sendlog.counts(conn, "2025-01-29") == {"sent": 2}


def test_sample_subscribers_are_seeded_but_an_unsubscribed_one_is_never_reactivated(make_config):
    config = make_config(subscribers=[{"email": "ada@example.com"}, {"email": "grace@example.com"}])
    write_issue_folder(config.output_dir)
    conn = storage.connect(config.db_path)
    grace, _ = subscriber_store.add_subscriber(conn, "Grace@Example.com")
    subscriber_store.set_status(conn, grace.subscriber.id, "unsubscribed", "one-click unsubscribe")

    report = pipeline.send(config, conn, issue_key="2025-01-29")

    assert report.sent == 1
    assert [(r.email, r.subscriber.status) for r in subscriber_store.list_subscribers(conn)] == [
        ("Grace@example.com", "unsubscribed"), ("ada@example.com", "active")]
    assert [e.email for e in sendlog.entries(conn, "2025-01-29")] == ["ada@example.com"]


def test_sending_an_issue_that_was_not_built_names_the_missing_file(config, db):
    from digest.errors import DeliveryError

    with pytest.raises(DeliveryError, match=r"2031-01-01/digest.json: missing: build the issue first"):
        pipeline.send(config, db, issue_key="2031-01-01")


def test_the_outbox_message_of_a_name_with_crlf_is_still_one_to_header(make_config, tmp_path: Path):
    config = make_config()
    write_issue_folder(config.output_dir)
    conn = storage.connect(config.db_path)
    record, _ = subscriber_store.add_subscriber(conn, "eve@example.com", "Eve\r\nBcc: x@example.org")
    pipeline.send(config, conn, issue_key="2025-01-29")
    msg = parse(next((tmp_path / "var" / "outbox").glob("*.eml")).read_bytes())

    assert record.subscriber.first_name == "Eve Bcc: x@example.org"
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].display_name == "Eve Bcc: x@example.org"


def test_digest_send_prints_progress_and_a_summary(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from digest.cli import main

    monkeypatch.setenv("DIGEST_SECRET", "cli-test")
    (tmp_path / "config.toml").write_text(
        '[storage]\npath = "var/cli.sqlite3"\n[[subscribers]]\nemail = "ada@example.com"\nfirst_name = "Ada"\n'
        '[[subscribers]]\nemail = "grace@example.com"\n', encoding="utf-8")
    write_issue_folder(tmp_path / "out", "2025-01-29")
    runner = CliRunner()

    first = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "send", "--issue", "2025-01-29"])
    again = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "send", "--issue", "2025-01-29"])
    missing = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "send", "--issue", "2031-01-01"])

    assert first.exit_code == 0, first.output
    assert "2/2 done: sent 2, retried 0, failed 0, skipped 0" in first.output
    assert "issue 2025-01-29 (outbox): sent 2, retried 0, failed 0, skipped 0, uncertain 0" in first.output
    assert "issue 2025-01-29 (outbox): sent 0, retried 0, failed 0, skipped 2, uncertain 0" in again.output
    assert missing.exit_code == 1
    assert "Error: " in missing.output and "2031-01-01/digest.json: missing" in missing.output


def test_delivery_fills_exactly_the_placeholders_render_leaves():
    from digest.deliver import message
    from digest.render import GREETING_FALLBACK, PLACEHOLDERS

    assert {message.GREETING, message.UNSUBSCRIBE, message.PREFERENCES} == set(PLACEHOLDERS.values())
    assert message.DEFAULT_GREETING_NAME == GREETING_FALLBACK
