"""SpamAssassin (Debian's, local rules only) scores a real issue's message well below any threshold."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from digest import pipeline, storage
from digest.config import parse_config
from tests.conftest import ROOT, require

pytestmark = pytest.mark.spamassassin


def test_a_full_message_built_from_the_seed_issue_scores_below_one(tmp_path, monkeypatch):
    spamassassin = require("spamassassin")
    monkeypatch.setenv("DIGEST_SECRET", "spam-test")
    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    raw["storage"] = {"path": str(tmp_path / "digest.sqlite3")}
    raw["render"]["output_dir"] = str(tmp_path / "out")
    raw["delivery"]["outbox_dir"] = str(tmp_path / "outbox")
    config = parse_config(raw, base_dir=ROOT)  # the shipped config: seeds/ and the sample subscribers
    conn = storage.connect(config.db_path)
    pipeline.ingest(config, conn)
    built = pipeline.build(config, conn)
    report = pipeline.send(config, conn, issue_key=built.rendered.issue.key)
    message = sorted((tmp_path / "outbox").glob("*.eml"))[0].read_bytes()

    result = subprocess.run([spamassassin, "-L", "-t"], input=message, capture_output=True, timeout=120)
    status = re.search(rb"X-Spam-Status: \w+, score=(-?[\d.]+)[^\n]*(?:\n\s+[^\n]*)*", result.stdout)

    assert report.sent == len(config.subscribers) == 2
    assert status is not None, result.stderr.decode()[-500:]
    assert float(status.group(1)) < 1.0, status.group(0).decode()
