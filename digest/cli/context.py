"""What every command shares: the config, one database connection, output helpers."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
