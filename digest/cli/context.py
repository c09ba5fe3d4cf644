"""What every command shares: the config, one database connection, output helpers."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import click

from .. import storage
from ..config import Config, load_config

T = TypeVar("T")
log = logging.getLogger("digest")


@dataclass
class AppContext:
    config_path: Path
    quiet: bool = False
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)
    _conn: storage.Connection | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def conn(self) -> storage.Connection:
        if self._conn is None:
            self._conn = storage.connect(self.config.db_path)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def echo(self, message: str = "") -> None:
        """Normal output (stdout), silenced by --quiet."""
        if not self.quiet:
            click.echo(message)

    def progress(self, items: Iterable[T], length: int, label: str) -> Iterator[T]:
        """A progress bar on a terminal; plain log lines every 10% otherwise."""
        if self.quiet:
            yield from items
            return
        if sys.stderr.isatty():
            with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
                yield from bar
            return
        step = max(1, length // 10)
        for done, item in enumerate(items, start=1):
            if done % step == 0 or done == length:
                log.info("%s: %d/%d", label, done, length)
            yield item


pass_app = click.make_pass_decorator(AppContext)


def format_table(rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell; the last column is left ragged (it may be long)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]).rstrip() for r in rows]


def format_when(value: datetime | None, missing: str = "-") -> str:
    """A timestamp as the CLI shows it: UTC, to the minute."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else missing


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM or Ctrl-C sets `stop` (the messages in flight finish, the rest waits for the next run);
    a second Ctrl-C aborts at once."""

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo(f"{signal.Signals(signum).name}: stopping after the messages in flight "
                   "(Ctrl-C again to abort at once)", err=True)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
