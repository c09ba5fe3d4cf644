"""Send benchmark: our sender against a plain smtplib loop, 10,000 subscribers, one aiosmtpd sink.

The sink (tests/smtp_servers.py, aiosmtpd) runs in its own process on
127.0.0.1 and discards what it accepts. The message is the real issue built
from seeds/ by the pipeline. Ours: `digest.deliver.deliver_issue` in SMTP
mode (pool of [smtp].pool_size reused connections, send log in SQLite,
substitution into the issue rendered once). The peer: for each subscriber,
build an `EmailMessage` (text + HTML alternative, same headers and the same
substitution), open a new SMTP connection, `send_message`, `quit`.

Usage: .venv/bin/python bench/send.py [--subscribers 10000] [--pool 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import smtplib
import sys
import tempfile
import time
import tomllib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest import pipeline, storage  # noqa: E402
from digest.config import parse_config  # noqa: E402
from digest.deliver import deliver_issue, issue_content  # noqa: E402
from digest.deliver.message import subject_line, unsubscribe_links  # noqa: E402
from digest.deliver.tokens import make_token  # noqa: E402
from digest.storage import subscribers as subscriber_store  # noqa: E402
from tests.smtp_servers import start_server  # noqa: E402


def naive_loop(content, settings, secret: bytes, people: list[tuple[int, str, str]], port: int) -> None:
    """What a first script does: build each message with the email package, one connection each."""
    subject = subject_line(settings, content)
    for sid, address, name in people:
        token = make_token(secret, sid, address)
        unsubscribe, preferences = unsubscribe_links(settings, token)
        fill = {"[[digest:greeting_name]]": name or "readers", "[[digest:unsubscribe_url]]": unsubscribe,
                "[[digest:preferences_url]]": preferences}
        text, html = content.text, content.html
        for placeholder, value in fill.items():
            text, html = text.replace(placeholder, value), html.replace(placeholder, value)
        msg = EmailMessage()
        msg["From"] = f"{settings.from_name} <{settings.from_address}>"
        msg["To"] = f"{name} <{address}>" if name else address
        msg["Subject"] = subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="example.com")
        msg["List-Id"] = f"{content.title} <{settings.list_id}>"
        msg["List-Unsubscribe"] = f"<{unsubscribe}>, <mailto:{settings.unsubscribe_mailto}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(msg)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (Linux /proc), to show whether the sink is the limit."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description="digest send vs a plain smtplib loop")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=4, help="[smtp].pool_size for our sender")
    args = parser.parse_args()
    os.environ.setdefault("DIGEST_SECRET", "bench")

    with tempfile.TemporaryDirectory() as tmp:
        sink = start_server(None)
        try:
            raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
            raw["storage"] = {"path": f"{tmp}/bench.sqlite3"}
            raw["render"]["output_dir"] = f"{tmp}/out"
            raw["delivery"].update(mode="smtp")
            raw["smtp"].update(host="127.0.0.1", port=sink.port, security="none", pool_size=args.pool)
            raw.pop("subscribers", None)
            config = parse_config(raw, base_dir=ROOT)
            conn = storage.connect(config.db_path)
            pipeline.ingest(config, conn)
            built = pipeline.build(config, conn)
            content = issue_content(built.rendered)
            names = ["Ada", "", "Grace", "José", "Linus"]
            for i in range(args.subscribers):
                subscriber_store.add_subscriber(conn, f"reader{i:05d}@example.com", names[i % len(names)] or None)
            people = [(s.id, s.email, s.first_name or "") for s in subscriber_store.active_subscribers(conn)]
            conn.close()  # the last connection to close checkpoints the WAL: every run starts from a clean file
            conn = storage.connect(config.db_path)
            size = len(content.html.encode()) + len(content.text.encode())

            pid = sink.process.pid
            wall, cpu, sink_cpu = time.perf_counter(), cpu_seconds(), process_cpu_seconds(pid)
            report = deliver_issue(config, conn, content)
            ours_wall, ours_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            ours_sink = process_cpu_seconds(pid) - sink_cpu
            assert report.sent == args.subscribers, (report.summary(), report.failures[:3])

            # The same against a sink that advertises PIPELINING, as Postfix and most providers do.
            piped = start_server(None, "--pipelining")
            try:
                raw["smtp"]["port"] = piped.port
                piped_config = parse_config(raw, base_dir=ROOT)
                wall, cpu, sink_cpu = time.perf_counter(), cpu_seconds(), process_cpu_seconds(piped.process.pid)
                content_again = type(content)(**{**content.__dict__, "key": content.key + "-pipelined"})
                piped_report = deliver_issue(piped_config, conn, content_again)
                piped_wall, piped_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
                piped_sink = process_cpu_seconds(piped.process.pid) - sink_cpu
                assert piped_report.sent == args.subscribers, piped_report.summary()
            finally:
                piped.stop()

            secret = b"bench"
            wall, cpu, sink_cpu = time.perf_counter(), cpu_seconds(), process_cpu_seconds(pid)
            naive_loop(content, config.delivery, secret, people, sink.port)
            naive_wall, naive_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            naive_sink = process_cpu_seconds(pid) - sink_cpu
        finally:
            sink.stop()

    n = args.subscribers
    ours_rate, naive_rate = n / ours_wall, n / naive_wall
    print(f"{n} subscribers, issue {content.key} ({size / 1024:.0f} KiB of text + HTML), aiosmtpd sink on "
          f"127.0.0.1 in its own process, {os.cpu_count()} cores")
    print()
    print(f"{'sender':<44} {'seconds':>8} {'msg/s':>8} {'CPU s':>7} {'cores':>6} {'sink cores':>11}")
    print(f"{'digest send (pool ' + str(args.pool) + ', send log, substitution)':<44} {ours_wall:>8.2f} "
          f"{ours_rate:>8.0f} {ours_cpu:>7.2f} {ours_cpu / ours_wall:>6.2f} {ours_sink / ours_wall:>11.2f}")
    print(f"{'digest send, sink advertises PIPELINING':<44} {piped_wall:>8.2f} {n / piped_wall:>8.0f} "
          f"{piped_cpu:>7.2f} {piped_cpu / piped_wall:>6.2f} {piped_sink / piped_wall:>11.2f}")
    print(f"{'smtplib loop (EmailMessage, 1 conn/msg)':<44} {naive_wall:>8.2f} {naive_rate:>8.0f} "
          f"{naive_cpu:>7.2f} {naive_cpu / naive_wall:>6.2f} {naive_sink / naive_wall:>11.2f}")
    print()
    print(f"ratio: {ours_rate / naive_rate:.1f}x the naive loop; our CPU {ours_cpu / n * 1e6:.0f} us per message")


if __name__ == "__main__":
    main()
