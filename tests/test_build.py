"""`digest build`: the pipeline writes out/<key>/, records the issue and its stories, lists it in out/index.html."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from digest import pipeline, storage
from digest.cli import main
from digest.storage import articles as article_store
from digest.storage import issues as issue_store
from tests.conftest import SEEDS, make_article
from tests.html_probe import links, visible_text
from tests.issue_factory import hostile_issue

MORNING = datetime(2025, 1, 29, 7, 0, tzinfo=timezone.utc)
NEXT_MORNING = datetime(2025, 1, 30, 7, 0, tzinfo=timezone.utc)


def seed_articles() -> list:
    """The five sample articles in seeds/, read plainly (title = first line), as five outlets."""
    found = []
    for i, path in enumerate(sorted(SEEDS.glob("*.txt")), start=1):
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        body = "\n".join(lines[1:]).strip()
        paragraphs = "\n\n".join(p.strip() for p in body.split("\n") if p.strip())
        found.append(make_article(id=f"seed{i}", url=path.resolve().as_uri(), title=lines[0].strip(),
                                  source=f"Sample {i}", text=paragraphs,
                                  published=datetime(2025, 1, 28, 12, i, tzinfo=timezone.utc)))
    return found


def web_articles() -> list:
    return [
        make_article(id="w1", url="https://chips.example.com/nvidia-export", source="Chip Daily",
                     title="Nvidia <b>shares</b> fall as export rules tighten",
                     text="Nvidia shares fell 17% on Monday. The company lost $593 billion in market value.\n\n"
                          "Analysts blamed new export rules and a cheaper Chinese model. Traders sold chip stocks "
                          "across Asia and Europe as well."),
        make_article(id="w2", url="https://phones.example.com/fold", source="Phone Weekly",
                     title="Samsung shows a thinner foldable phone",
                     text="Samsung showed a foldable phone that is 8.9 mm thick when closed. It ships in July.\n\n"
                          "The phone has a 200 megapixel camera. Preorders open in June in Korea and the US."),
    ]


def config_for(make_config, tmp_path: Path):
    return make_config(digest={"lookback_hours": 100000}, render={"output_dir": str(tmp_path / "out")})


# --- the issues table ---

def test_save_issue_records_the_issue_and_each_story_with_its_articles_and_points(db, tmp_path):
    issue = hostile_issue(stories=2, quick_hits=1)
    issue_store.save_issue(db, issue, tmp_path / "2025-01-29", built_at=MORNING)
    record = issue_store.get_issue(db, "2025-01-29")
    assert (record.key, record.status, record.headline, record.folder, record.built_at, record.sent_at) == (
        "2025-01-29", "built", "Story 1: chips, models and money", tmp_path / "2025-01-29", MORNING, None)
    stories = issue_store.issue_stories(db, "2025-01-29")
    assert [(s.position, s.story_id, s.kind) for s in stories] == [
        (1, "story01", "story"), (2, "story02", "story"), (3, "story03", "quick_hit")]
    assert stories[0].article_ids == ("s1a0", "s1a1", "s1a2")
    assert stories[0].key_points[0].startswith("Key point 1.1: DeepSeek trained R1")
    assert len(stories[0].key_points) == 5


def test_rebuilding_an_issue_replaces_its_stories_and_keeps_it_sent(db, tmp_path):
    issue_store.save_issue(db, hostile_issue(stories=3, quick_hits=0), tmp_path)
    assert issue_store.mark_issue_sent(db, "2025-01-29", sent_at=MORNING) is True
    issue_store.save_issue(db, hostile_issue(stories=1, quick_hits=0), tmp_path)
    record = issue_store.get_issue(db, "2025-01-29")
    assert (record.status, record.sent_at) == ("sent", MORNING)
    assert [s.story_id for s in issue_store.issue_stories(db, "2025-01-29")] == ["story01"]
    assert issue_store.mark_issue_sent(db, "1999-01-01") is False


def test_past_stories_leave_out_the_issue_being_built(db, tmp_path):
    article_store.save_articles(db, [make_article(id="s1a0", url="https://a.example/1", source="A")])
    issue_store.save_issue(db, hostile_issue(stories=1, quick_hits=0), tmp_path)
    past = issue_store.past_stories(db, exclude_key="2025-01-30")
    assert [(p.id, p.issue_key, p.headline) for p in past] == [
        ("story01", "2025-01-29", "Story 1: chips, models and money")]
    assert [a.id for a in past[0].articles] == ["s1a0"]  # the other two are not in the store
    assert len(past[0].key_points) == 5
    assert issue_store.past_stories(db, exclude_key="2025-01-29") == []


# --- pipeline.build ---

def test_build_writes_files_records_the_issue_and_lists_it_in_the_archive(make_config, tmp_path):
    config = config_for(make_config, tmp_path)
    conn = storage.connect(config.db_path)
    article_store.save_articles(conn, web_articles(), now=MORNING)
    result = pipeline.build(config, conn, now=MORNING)
    folder = tmp_path / "out" / "2025-01-29"
    assert result.folder == folder
    assert sorted(p.name for p in folder.iterdir()) == ["digest.json", "digest.mjml", "digest.txt", "email.html",
                                                        "index.html"]
    doc = json.loads((folder / "digest.json").read_text(encoding="utf-8"))
    email_text = visible_text((folder / "email.html").read_text(encoding="utf-8"))
    text = " ".join((folder / "digest.txt").read_text(encoding="utf-8").split())
    assert len(doc["stories"]) + len(doc["quick_hits"]) == 2
    for story in doc["stories"]:
        assert story["headline"] in email_text
        for point in story["details"]:
            assert point["text"] in email_text
            assert point["text"] in text
    assert "<b>shares</b>" not in (folder / "email.html").read_text(encoding="utf-8")
    record = issue_store.get_issue(conn, "2025-01-29")
    assert (record.status, record.folder) == ("built", folder)
    archive = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert [link.href for link in links(archive)] == ["2025-01-29/index.html"]
    conn.close()


def test_the_next_build_remembers_the_stories_of_the_first(make_config, tmp_path):
    config = config_for(make_config, tmp_path)
    conn = storage.connect(config.db_path)
    article_store.save_articles(conn, web_articles(), now=MORNING)
    first = pipeline.build(config, conn, now=MORNING)
    told = {s.story.id for s in first.rendered.issue.stories + first.rendered.issue.quick_hits}
    past = pipeline.past_stories(conn, before_key="2025-01-30")
    assert {p.id for p in past} == told
    assert {a.id for p in past for a in p.articles} == {"w1", "w2"}
    assert pipeline.past_stories(conn, before_key="2025-01-29") == []
    pipeline.build(config, conn, now=NEXT_MORNING)
    archive = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert [link.href for link in links(archive)] == ["2025-01-30/index.html", "2025-01-29/index.html"]
    conn.close()


def test_the_seed_articles_build_into_a_tech_rundown_issue(make_config, tmp_path):
    config = config_for(make_config, tmp_path)
    conn = storage.connect(config.db_path)
    article_store.save_articles(conn, seed_articles(), now=MORNING)
    result = pipeline.build(config, conn, now=MORNING)
    issue = result.rendered.issue
    assert issue.stories
    html = result.rendered.email_html
    text = visible_text(html)
    for marker in ("Tech Rundown", "January 29, 2025", "In today's digest:", "The Rundown:", "Sources:",
                   "Update your email preferences or unsubscribe here", "Powered by digest"):
        assert marker in text
    # Seeds are local files: the outlets are named, never linked with file:// URLs.
    assert "file:" not in html
    assert "Sample 1" in text
    plain = " ".join(result.rendered.text.split())
    for story in issue.stories:
        for point in story.details:
            assert " ".join(point.text.split()) in plain
    conn.close()


# --- the command ---

def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[digest]\nlookback_hours = 100000\n[storage]\npath = "var/db.sqlite3"\n'
                    '[render]\noutput_dir = "out"\n', encoding="utf-8")
    conn = storage.connect(tmp_path / "var" / "db.sqlite3")
    article_store.save_articles(conn, web_articles(), now=MORNING)
    conn.close()
    return path


def test_digest_build_prints_the_folder_and_the_file_url(tmp_path):
    result = CliRunner().invoke(main, ["--config", str(write_config(tmp_path)), "build"])
    assert result.exit_code == 0, result.output
    key = datetime.now(timezone.utc).date().isoformat()
    folder = (tmp_path / "out" / key).resolve()
    assert f"folder:   {folder}" in result.output
    assert f"open:     {(folder / 'index.html').as_uri()}" in result.output
    assert (folder / "email.html").exists()


def test_digest_build_json_prints_digest_json(tmp_path):
    result = CliRunner().invoke(main, ["--config", str(write_config(tmp_path)), "build", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["title"] == "Tech Rundown"
    assert doc["key"] == datetime.now(timezone.utc).date().isoformat()
    assert len(doc["stories"]) + len(doc["quick_hits"]) == 2
