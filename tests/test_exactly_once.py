"""kill -9 a `digest send` subprocess at random points, again and again: everyone still gets exactly one copy.

The relay is aiosmtpd in its own process; it records each message before
answering 250, and answers after a short delay like a real relay, so kills
land before, during and after SMTP transactions, and between the relay's
acceptance and our log's "sent". Half the kills come at a random moment of start-up,
queueing or the first 1-4 transactions, half a random 0-10 ms after the
relay took a message (mid-transaction). What the test proves: no address
receives two copies (at most once), and every address is reached once
`digest send` has run to completion, except one killed in the microseconds
between committing "handed" and writing the final "." (none in practice;
such a one would be listed as uncertain).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from digest import storage
from digest.storage import sendlog
from digest.storage import subscribers as subscriber_store
from tests.smtp_servers import start_server, write_issue_folder

KEY = "2025-01-29"
RECIPIENTS = [f"r{i:03d}@example.com" for i in range(200)]
KILLS = 22


def digest_command(config_path: Path) -> list[str]:
    script = Path(sys.executable).parent / "digest"
    head = [str(script)] if script.exists() else [sys.executable, "-c", "from digest.cli import main; main()"]
    return [*head, "--config", str(config_path), "-q", "send", "--issue", KEY]


def line_count(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def test_twenty_plus_kill_9s_at_random_points_leave_every_recipient_with_exactly_one_copy(tmp_path):
    record = tmp_path / "received.jsonl"
    server = start_server(record, "--data-delay", "0.002")
    try:
        (tmp_path / "config.toml").write_text(
            '[storage]\npath = "var/digest.sqlite3"\n[delivery]\nmode = "smtp"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\npool_size = 2\n'
            'retry_backoff_seconds = 0.05\ntimeout_seconds = 10.0\n', encoding="utf-8")
        write_issue_folder(tmp_path / "out", KEY)
        conn = storage.connect(tmp_path / "var" / "digest.sqlite3")
        for address in RECIPIENTS:
            subscriber_store.add_subscriber(conn, address)
        command = digest_command(tmp_path / "config.toml")
        env = {**os.environ, "DIGEST_SECRET": "kill-test"}
        rng = random.Random(7)
        kills = mid_send = 0
        startup = 1.0  # seconds from launch to a run's first message: the shortest seen so far
        for attempt in range(KILLS * 3):
            if kills >= KILLS:
                break
            before = line_count(record)
            launched = time.monotonic()
            process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            if attempt % 2:
                # Start-up, queueing or the first transactions: a random moment, at the latest when a
                # random number (1-4) of messages has arrived, so no run gets far.
                deadline, most = launched + rng.uniform(0.0, startup + 0.05), before + rng.randint(1, 4)
                while time.monotonic() < deadline and line_count(record) < most and process.poll() is None:
                    time.sleep(0.0005)
            else:
                while line_count(record) == before and process.poll() is None:
                    time.sleep(0.0005)
                startup = min(startup, time.monotonic() - launched)
                time.sleep(rng.uniform(0.0, 0.010))  # just after the relay took a message
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
                mid_send += line_count(record) > before
            process.wait()
        final = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

        counts = server.received_counts()
        entries = {e.email: e.status for e in sendlog.entries(conn, KEY)}
    finally:
        server.stop()

    assert kills >= 20
    assert mid_send >= KILLS // 2
    assert final.returncode == 0, final.stderr
    assert max(counts.values()) == 1, {a: n for a, n in counts.items() if n > 1}
    assert sorted(counts) == RECIPIENTS
    assert set(entries.values()) <= {"sent", "uncertain"}
    assert all(counts.get(a) == 1 for a, status in entries.items() if status == "uncertain")
