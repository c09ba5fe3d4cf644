"""Shared fixtures: a fresh database, a minimal valid config, an article factory.

`require(tool)` skips a test whose real component (chromium, postfix,
spamassassin) is missing on a developer's machine, but fails it under CI=true,
where .ci/run must have installed it.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from digest import storage
from digest.config import Config, parse_config
from digest.models import Article

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


def require(tool: str) -> str:
    """Return the path of `tool`; skip the test locally when absent, fail it in CI."""
    path = shutil.which(tool) or (tool if os.path.exists(tool) else None)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is not installed: .ci/run must install it")
    pytest.skip(f"{tool} is not installed (bash .ci/run installs it)")


@pytest.fixture
def db() -> storage.Connection:
    """An in-memory SQLite database with every migration applied."""
    conn = storage.connect(":memory:")
    yield conn
    conn.close()


@pytest.fixture
def make_config(tmp_path: Path):
    """Build a valid Config from TOML-shaped dicts, rooted in a temporary folder."""

    def make(**sections: Any) -> Config:
        raw: dict[str, Any] = {"storage": {"path": "var/test.sqlite3"}}
        raw.update(sections)
        return parse_config(raw, base_dir=tmp_path)

    return make


@pytest.fixture
def config(make_config) -> Config:
    return make_config()


def make_article(**overrides: Any) -> Article:
    """An Article with sensible defaults; override any field."""
    fields: dict[str, Any] = dict(
        id="a1",
        url="https://example.com/a1",
        title="Example headline",
        source="Example",
        text="First paragraph of the article.\n\nSecond paragraph.",
        published=datetime(2025, 1, 29, 9, 0, tzinfo=timezone.utc),
        fetched_at=datetime(2025, 1, 29, 10, 0, tzinfo=timezone.utc),
    )
    fields.update(overrides)
    return Article(**fields)
