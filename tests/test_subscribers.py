"""Subscribers: validated, deduplicated case-insensitively, status history, CSV import/export, the CLI."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from digest import storage
from digest.cli import main
from digest.errors import InputError
from digest.storage import subscribers as subscriber_store

T1 = datetime(2025, 1, 29, 7, 0, tzinfo=timezone.utc)
T2 = datetime(2025, 2, 3, 9, 30, tzinfo=timezone.utc)


def test_an_address_is_validated_and_its_domain_normalized(db):
    record, created = subscriber_store.add_subscriber(db, "  Ada.Lovelace@EXAMPLE.com ", "Ada")

    assert created
    assert (record.email, record.subscriber.first_name, record.subscriber.status) == (
        "Ada.Lovelace@example.com", "Ada", "active")
    for bad in ("not-an-address", "ada@", "ada@example", "a b@example.com", "ada@example.com\r\nBcc: x@y.com"):
        with pytest.raises(InputError):
            subscriber_store.add_subscriber(db, bad)


def test_the_same_address_in_another_case_is_the_same_subscriber(db):
    first, _ = subscriber_store.add_subscriber(db, "ada@example.com", "Ada")
    again, created = subscriber_store.add_subscriber(db, "ADA@Example.COM", "Someone else")

    assert not created
    assert again.subscriber.id == first.subscriber.id
    assert again.subscriber.first_name == "Ada"
    assert len(subscriber_store.list_subscribers(db)) == 1


def test_every_status_change_is_kept_with_its_time_and_reason(db):
    record, _ = subscriber_store.add_subscriber(db, "ada@example.com", now=T1)
    sid = record.subscriber.id
    subscriber_store.set_status(db, sid, "unsubscribed", "one-click unsubscribe", now=T2)
    unchanged = subscriber_store.set_status(db, sid, "unsubscribed", "clicked twice", now=T2)

    history = subscriber_store.status_history(db, sid)
    now = subscriber_store.get_subscriber(db, sid)

    assert not unchanged
    assert [(h.at, h.status, h.reason) for h in history] == [
        (T1, "active", "added"), (T2, "unsubscribed", "one-click unsubscribe")]
    assert (now.subscriber.status, now.status_at, now.status_reason) == ("unsubscribed", T2, "one-click unsubscribe")


def test_csv_import_reports_each_bad_row_with_its_line_number_and_keeps_going(db, tmp_path):
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "email,first_name\n"
        "ada@example.com,Ada\n"
        "not-an-address,Bob\n"
        "\n"
        "GRACE@example.com,Grace\n"
        ",Nobody\n"
        "grace@EXAMPLE.com,Grace again\n"
        '"linus@example.com","Linus, the second"\n',
        encoding="utf-8")

    report = subscriber_store.import_csv(db, csv_file)

    assert (report.added, report.existing) == (3, 1)
    assert [line for line, _ in report.errors] == [3, 6]
    assert "not-an-address" in report.errors[0][1]
    assert report.errors[1] == (6, "no email address")
    assert [(r.email, r.subscriber.first_name) for r in subscriber_store.list_subscribers(db)] == [
        ("ada@example.com", "Ada"), ("GRACE@example.com", "Grace"), ("linus@example.com", "Linus, the second")]


def test_a_csv_without_a_header_is_email_then_name(db, tmp_path):
    csv_file = tmp_path / "plain.csv"
    csv_file.write_text("ada@example.com,Ada\nbob@example.com\n", encoding="utf-8")

    report = subscriber_store.import_csv(db, csv_file)

    assert (report.added, report.errors) == (2, [])
    assert [r.subscriber.first_name for r in subscriber_store.list_subscribers(db)] == ["Ada", None]


def test_export_writes_every_subscriber_with_status_and_reason(db):
    subscriber_store.add_subscriber(db, "ada@example.com", "Ada", now=T1)
    bob, _ = subscriber_store.add_subscriber(db, "bob@example.com", now=T1)
    subscriber_store.set_status(db, bob.subscriber.id, "bounced", "3 permanent failures", now=T2)

    text = subscriber_store.export_csv(subscriber_store.list_subscribers(db))

    assert text.splitlines() == [
        "email,first_name,status,status_at,status_reason",
        "ada@example.com,Ada,active,2025-01-29T07:00:00+00:00,added",
        "bob@example.com,,bounced,2025-02-03T09:30:00+00:00,3 permanent failures",
    ]


@pytest.fixture
def cli(tmp_path):
    (tmp_path / "config.toml").write_text('[storage]\npath = "subs.sqlite3"\n', encoding="utf-8")
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "subscribers", *args])

    run.db_path = tmp_path / "subs.sqlite3"
    return run


def test_cli_add_remove_list_import_and_export(cli, tmp_path):
    (tmp_path / "more.csv").write_text("email\nbob@example.com\nbroken\n", encoding="utf-8")

    added = cli("add", "ada@example.com", "--name", "Ada")
    duplicate = cli("add", "ADA@example.com")
    imported = cli("import", str(tmp_path / "more.csv"))
    removed = cli("remove", "bob@example.com")
    refused = cli("add", "bob@example.com")
    listed = cli("list")
    exported = cli("export")

    assert added.output == "added ada@example.com\n"
    assert duplicate.output == "ada@example.com is already subscribed\n"
    assert f"{tmp_path / 'more.csv'}:3: 'broken'" in imported.output
    assert "1 added, 0 already there, 1 rejected" in imported.output
    assert removed.output == "unsubscribed bob@example.com\n"
    assert refused.exit_code == 2
    assert "Error: bob@example.com is unsubscribed since" in refused.output
    assert "pass --resubscribe only if they asked" in refused.output
    assert "1 active, 1 unsubscribed, 0 bounced" in listed.output
    assert [line.split(",")[:3] for line in exported.output.splitlines()] == [
        ["email", "first_name", "status"], ["ada@example.com", "Ada", "active"],
        ["bob@example.com", "", "unsubscribed"]]
    conn = storage.connect(cli.db_path)
    assert [h.reason for h in subscriber_store.status_history(conn, 2)] == ["imported from more.csv",
                                                                           "removed by operator"]


def test_cli_resubscribe_needs_the_flag(cli):
    cli("add", "ada@example.com")
    cli("remove", "ada@example.com")

    result = cli("add", "ada@example.com", "--resubscribe")

    assert result.output == "ada@example.com is active again\n"
