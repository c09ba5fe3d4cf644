"""Real SMTP servers (aiosmtpd) for the delivery tests and the benchmark, each in its own process.

Run as ``python -m tests.smtp_servers --record FILE [options]``; it binds
127.0.0.1 on a free port and prints ``READY <port>`` once listening. Every
accepted message is appended to FILE as one JSON line (envelope and data)
before the 250 reply, so "received" means the server took responsibility.

Options make it misbehave on purpose: answer a chosen code to chosen
recipients (``--fail rcpt@x=451:2`` = the first two tries get 451), drop the
connection at the Nth MAIL FROM or right after the Nth message's final dot,
require STARTTLS/implicit TLS and AUTH, or wait before each 250.

`start_server(...)` runs it from a test and returns a `RunningServer`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- server side (child process)

class RecordingHandler:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.record = None if args.record == "-" else open(args.record, "a", encoding="utf-8")
        self.count = 0
        self.mails = 0
        self.failures: dict[str, list] = {}
        for spec in args.fail or []:
            rcpt, _, rule = spec.partition("=")
            code, _, times = rule.partition(":")
            self.failures[rcpt.lower()] = [int(code), int(times) if times else -1]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.mails += 1
        if self.args.drop_at_mail and self.mails == self.args.drop_at_mail:
            server.transport.close()
            return "421 dropping"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        rule = self.failures.get(address.lower())
        if rule and rule[1] != 0:
            rule[1] -= 1
            code = rule[0]
            return f"{code} {'4.0.0 try later' if code < 500 else '5.1.1 no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        if self.record is not None:
            line = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                    "data": base64.b64encode(envelope.original_content or envelope.content).decode("ascii")}
            self.record.write(json.dumps(line) + "\n")
            self.record.flush()
        if self.args.drop_after_data and self.count == self.args.drop_after_data:
            server.transport.close()
            return "250 never seen"
        if self.args.data_delay:
            await asyncio.sleep(self.args.data_delay)
        return "250 Message accepted"


class PipeliningHandler(RecordingHandler):
    """Also advertises PIPELINING (RFC 2920); aiosmtpd reads pipelined commands in order anyway."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


def _serve(args: argparse.Namespace) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    handler = (PipeliningHandler if args.pipelining else RecordingHandler)(args)
    context = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    user, _, password = (args.auth or "").partition(":")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
            and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def factory() -> SMTP:
        return SMTP(handler, hostname="sink.test", data_size_limit=None,
                    tls_context=context if args.tls == "starttls" else None,
                    require_starttls=args.tls == "starttls",
                    authenticator=authenticator if args.auth else None,
                    auth_required=bool(args.auth), auth_require_tls=args.tls != "none",
                    enable_SMTPUTF8=True, decode_data=False)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", 0, ssl=context if args.tls == "implicit" else None)
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--record", default="-", help="append accepted messages here as JSON lines ('-': nowhere)")
    p.add_argument("--tls", choices=("none", "starttls", "implicit"), default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth", help="USER:PASSWORD required before MAIL")
    p.add_argument("--fail", action="append", help="RCPT=CODE[:TIMES] (TIMES omitted: always)")
    p.add_argument("--drop-at-mail", type=int, default=0, help="close the connection at the Nth MAIL FROM")
    p.add_argument("--drop-after-data", type=int, default=0, help="close it after the Nth final dot, no reply")
    p.add_argument("--pipelining", action="store_true", help="advertise PIPELINING")
    p.add_argument("--data-delay", type=float, default=0.0, help="seconds to wait before each 250 to DATA")
    return p.parse_args(argv)


# ---------------------------------------------------------------- test side

@dataclass
class RunningServer:
    process: subprocess.Popen
    port: int
    record: Path | None

    def messages(self) -> list[dict]:
        """Every accepted message: {"from", "to", "data" (bytes)}."""
        if self.record is None or not self.record.exists():
            return []
        found = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            item["data"] = base64.b64decode(item["data"])
            found.append(item)
        return found

    def received_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.messages():
            for rcpt in m["to"]:
                counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(record: Path | None, *options: str) -> RunningServer:
    """Start `python -m tests.smtp_servers` with `options`; wait for its port."""
    args = [sys.executable, "-m", "tests.smtp_servers", "--record", str(record) if record else "-", *options]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 20
    line = process.stdout.readline() if process.stdout else ""
    if not line.startswith("READY ") or time.monotonic() > deadline:
        process.kill()
        raise RuntimeError(f"SMTP test server did not start: {line!r}")
    return RunningServer(process, int(line.split()[1]), record)


# ---------------------------------------------------------------- a small built issue

SAMPLE_TEXT = """TECH RUNDOWN | January 29, 2025

Good morning, [[digest:greeting_name]].

DeepSeek\u2019s R1 matches o1 for a fraction of the cost \u2014 caf\u00e9 talk everywhere.
.a line that starts with a dot (SMTP must stuff it)
From here on, a line starting with "From ".

Unsubscribe: [[digest:unsubscribe_url]]
Preferences: [[digest:preferences_url]]
"""

SAMPLE_HTML = """<!doctype html><html lang="en"><body>
<p>Good morning, [[digest:greeting_name]].</p>
<p>DeepSeek\u2019s R1 matches o1 for a fraction of the cost \u2014 caf\u00e9 talk everywhere.</p>
.<p>a line that starts with a dot</p>
<p>""" + "A long line of text without a break. " * 40 + """</p>
<p><a href="[[digest:unsubscribe_url]]">Unsubscribe</a> | <a href="[[digest:preferences_url]]">Preferences</a></p>
</body></html>
"""


def sample_content(key: str = "2025-01-29"):
    from digest.deliver import IssueContent

    return IssueContent(key=key, date=key, title="Tech Rundown", headline="DeepSeek\u2019s R1 rattles Silicon Valley",
                        subtitle="A $6M model", html=SAMPLE_HTML, text=SAMPLE_TEXT)


def write_issue_folder(out_dir: Path, key: str = "2025-01-29") -> Path:
    """out/<key>/ as the render stage writes it: email.html, digest.txt, digest.json."""
    content = sample_content(key)
    folder = out_dir / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "email.html").write_text(content.html, encoding="utf-8")
    (folder / "digest.txt").write_text(content.text, encoding="utf-8")
    (folder / "digest.json").write_text(json.dumps({"key": key, "date": key, "title": content.title,
                                                    "headline": content.headline, "subtitle": content.subtitle}),
                                        encoding="utf-8")
    return folder


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (cert.pem, key.pem), made with `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


if __name__ == "__main__":
    _serve(_parse())
