"""Outbox mode: one .eml file per subscriber instead of an SMTP transaction.

A file is written under a temporary name and renamed into place, so a crash
leaves either the whole message or none; the name depends only on the issue
and the subscriber, so a re-run rewrites the same file rather than adding a
second copy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DeliveryError

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


def outbox_name(issue_key: str, subscriber_id: int, email: str) -> str:
    return f"{_UNSAFE.sub('_', issue_key)}_{subscriber_id:06d}_{_UNSAFE.sub('_', email)[:80]}.eml"


def write_message(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to folder/name atomically; return the path."""
    target = folder / name
    temporary = folder / f".{name}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(data)
        os.replace(temporary, target)
    except OSError as exc:
        raise DeliveryError(f"{target}: cannot write to the outbox: {exc.strerror}") from None
    return target
