"""Render stage: the Tech Rundown layout, escaping, placeholders, the text twin, JSON, files."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from digest.config import DigestSection, RenderSection, SponsorSection
from digest.errors import ConfigError, RenderError
from digest.models import Issue
from digest.render import (
    BUILTIN_TEMPLATES, GMAIL_CLIP_BYTES, PLACEHOLDERS, ArchiveEntry, compile_mjml, fill_placeholders,
    render_archive, render_issue, write_archive, write_issue,
)
from tests.html_probe import links, visible_text
from tests.issue_factory import HOSTILE_POINT, HOSTILE_TITLE, PLACEHOLDER_IN_FEED, hostile_issue, make_summary

SUBSCRIBER = {"greeting_name": "Ada", "unsubscribe_url": "https://lists.example.com/u/tok123",
              "preferences_url": "https://lists.example.com/p/tok123"}


def render(issue: Issue | None = None, templates_dir: Path = BUILTIN_TEMPLATES, **settings):
    return render_issue(issue or hostile_issue(), digest=DigestSection(), settings=RenderSection(**settings),
                        templates_dir=templates_dir)


@pytest.fixture(scope="module")
def rendered():
    return render()


def positions(text: str, needles: list[str]) -> list[int]:
    found = []
    for needle in needles:
        assert needle in text, f"{needle!r} missing"
        found.append(text.index(needle))
    return found


def reader_text(html: str) -> str:
    """Visible text without the zero-width space that defuses a placeholder spelled in a feed."""
    return visible_text(html).replace("\u200b", "")


def stories_part(text: str, issue: Issue) -> str:
    """The text after the teaser list, where the full stories begin."""
    teasers = text.index("In today's digest:")
    last_teaser = text.index(issue.stories[-1].headline, teasers)
    return text[text.index("\n", last_teaser):]


def story_section(text: str, headline: str, next_headline: str | None) -> str:
    start = text.index(headline)
    end = text.index(next_headline, start + len(headline)) if next_headline else len(text)
    return text[start:end]


def test_sections_appear_in_the_tech_rundown_order(rendered):
    text = visible_text(rendered.email_html)
    order = [
        "Tech Rundown", "January 29, 2025", "Story 1: chips, models and money",
        "Rundown 1: a Chinese lab", "Read Online", "Share: Facebook", "Good morning, [[digest:greeting_name]].",
        "In today's digest:", "Ars Technica, Nvidia", "The Rundown:", "The details:", "Why it matters:",
        "Sources:", "Quick hits", "Story 11: chips", "Update your email preferences or unsubscribe here",
        "© 2025 Tech Rundown", "228 Park Ave S, New York, NY 10003, United States", "Powered by digest",
    ]
    # The kicker ("Ars Technica, Nvidia") is uppercased by CSS, not in the text.
    found = positions(text, order)
    assert found == sorted(found)


def test_teaser_list_has_one_line_per_full_story_in_rank_order(rendered):
    text = reader_text(rendered.email_html)
    teasers = text[text.index("In today's digest:"):].splitlines()[1:11]
    assert teasers == [s.headline for s in rendered.issue.stories]


def test_every_story_shows_its_points_and_links_every_web_source(rendered):
    body = stories_part(reader_text(rendered.email_html), rendered.issue)
    hrefs = {link.href for link in links(rendered.email_html)}
    stories = rendered.issue.stories
    for i, story in enumerate(stories):
        nxt = stories[i + 1].headline if i + 1 < len(stories) else "Quick hits"
        section = story_section(body, story.headline, nxt)
        assert "The Rundown: " + story.rundown in section
        for point in story.details:
            assert point.text in section
        sources_line = next(line for line in section.splitlines() if line.startswith("Sources:"))
        for ref in story.story.sources:
            assert ref.name in sources_line
            if ref.url.startswith("https://"):
                assert ref.url in hrefs


def test_why_it_matters_is_left_out_when_the_summary_has_none(rendered):
    text = stories_part(reader_text(rendered.email_html), rendered.issue)
    fifth = story_section(text, "Story 5: chips", "Story 6: chips")
    assert "Why it matters:" not in fifth
    assert text.count("Why it matters:") == 9


def test_hostile_feed_strings_are_escaped_not_executed(rendered):
    html = rendered.email_html
    assert "<script" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "<b>overnight" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; Co&#39;s &#34;AI&#34; chip" in html
    text = visible_text(html)
    assert HOSTILE_TITLE in text
    assert HOSTILE_POINT in text


def test_a_hostile_issue_headline_is_escaped_in_title_label_and_preheader():
    issue = replace(hostile_issue(), headline=HOSTILE_TITLE, subtitle=HOSTILE_TITLE)
    html = render(issue).email_html
    escaped = "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; Co&#39;s &#34;AI&#34; chip"
    assert "<script" not in html
    assert f"<title>{escaped}</title>" in html
    assert f'aria-label="{escaped}"' in html
    assert f'<div class="dg-preheader" style="display:none;max-height:0;max-width:0;overflow:hidden;mso-hide:all;">{escaped}</div>' in html


def test_quotes_in_article_urls_cannot_break_out_of_href(rendered):
    hrefs = [link.href for link in links(rendered.email_html)]
    assert "https://news0.example.com/2025/01/29/story-1?ref=rss&utm=x\"y" in hrefs
    assert 'utm=x&#34;y"' in rendered.email_html


def test_local_file_sources_are_named_but_never_linked(rendered):
    text = stories_part(reader_text(rendered.email_html), rendered.issue)
    fourth = story_section(text, "Story 4: chips", "Story 5: chips")
    assert "Local notes" in fourth
    assert "file:" not in rendered.email_html
    assert all(not link.text == "Local notes" for link in links(rendered.email_html))


def test_every_link_is_absolute_once_placeholders_are_filled(rendered):
    filled = fill_placeholders(rendered.email_html, SUBSCRIBER, is_html=True)
    hrefs = [link.href for link in links(filled)]
    assert len(hrefs) > 40
    assert [h for h in hrefs if not h.startswith(("https://", "http://"))] == []


def test_read_online_and_share_links_point_at_the_archive_copy(rendered):
    by_text = {link.text: link.href for link in links(rendered.email_html)}
    assert by_text["Read Online"] == "http://127.0.0.1:8025/archive/2025-01-29/"
    assert by_text["LinkedIn"] == ("https://www.linkedin.com/sharing/share-offsite/?url="
                                   "http%3A%2F%2F127.0.0.1%3A8025%2Farchive%2F2025-01-29%2F")


def test_email_and_text_keep_placeholders_and_the_archive_copy_has_none(rendered):
    for token in PLACEHOLDERS.values():
        assert token in rendered.email_html
        assert token in rendered.text
        assert token not in rendered.archive_html
    assert "Good morning, readers." in visible_text(rendered.archive_html)
    footer = {link.text: link.href for link in links(rendered.archive_html)}
    assert footer["unsubscribe here"] == "http://127.0.0.1:8025/archive/"


def test_a_feed_string_that_spells_a_placeholder_is_never_filled(rendered):
    filled = fill_placeholders(rendered.email_html, SUBSCRIBER, is_html=True)
    spoof = next(line for line in visible_text(filled).splitlines() if line.startswith("Spoof"))
    assert "tok123" not in spoof
    assert spoof.replace("\u200b", "") == PLACEHOLDER_IN_FEED
    assert "tok123" not in fill_placeholders(rendered.text, SUBSCRIBER, is_html=False).split("Spoof")[1][:60]


def test_fill_placeholders_escapes_values_for_html_but_not_for_text():
    values = dict(SUBSCRIBER, greeting_name='<b>Ann & "Bo"')
    assert fill_placeholders("Hi [[digest:greeting_name]].", values, is_html=True) == \
        "Hi &lt;b&gt;Ann &amp; &quot;Bo&quot;."
    assert fill_placeholders("Hi [[digest:greeting_name]].", values, is_html=False) == 'Hi <b>Ann & "Bo".'


def test_fill_placeholders_names_a_missing_value():
    with pytest.raises(RenderError, match="no value for placeholder\\(s\\): preferences_url, unsubscribe_url"):
        fill_placeholders("x", {"greeting_name": "Ada"}, is_html=True)


def test_email_html_is_email_grade(rendered):
    html = rendered.email_html
    assert html.startswith("<!doctype html><html lang=\"en\"")
    assert '<meta name="color-scheme" content="light dark" />' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert "max-width:600px" in html
    assert "fonts.googleapis.com" not in html
    assert "<!--" not in html.replace("<!--[if", "").replace("<!--<![endif]-->", "").replace("<!-->", "")


def test_preheader_is_hidden_by_display_none_not_white_text(rendered):
    html = rendered.email_html
    body = html[html.index("<body"):]
    preheader = re.search(r'<div class="dg-preheader" style="([^"]*)">([^<]*)</div>', body)
    assert preheader is not None
    assert "display:none" in preheader.group(1)
    assert preheader.group(2) == "Rundown 1: a Chinese lab matched OpenAI&#39;s o1 at a fraction of the cost, and markets noticed."
    assert not re.search(r"(?<![-\w])color:\s*#f{3}(f{3})?\b", html, re.IGNORECASE)


def test_mjml_preview_of_a_user_template_loses_its_white_text():
    html = compile_mjml("<mjml><mj-head><mj-preview>Peek</mj-preview></mj-head>"
                        "<mj-body><mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section></mj-body></mjml>")
    assert "Peek" in html
    assert "#ffffff" not in html


def test_ten_story_issue_stays_under_gmail_clipping(rendered):
    assert len(rendered.issue.stories) == 10
    assert len(rendered.email_html.encode("utf-8")) < GMAIL_CLIP_BYTES
    assert GMAIL_CLIP_BYTES == 102_000


def test_sponsor_block_is_off_by_default_and_escaped_when_on(rendered):
    assert "In partnership with" not in rendered.email_html
    sponsor = SponsorSection(enabled=True, name="Acme <AI>", url="https://acme.example/?a=1&b=2",
                             text="Acme builds \"safe\" agents.")
    html = render(sponsor=sponsor).email_html
    text = visible_text(html)
    positions(text, ["Share:", "In partnership with", "Acme <AI>", 'Acme builds "safe" agents.', "Good morning"])
    assert positions(text, ["In partnership with", "Good morning"])[0] < text.index("Good morning")
    assert "Acme &lt;AI&gt;" in html
    assert any(link.href == "https://acme.example/?a=1&b=2" and link.text == "Acme <AI>" for link in links(html))


def test_logo_image_has_alt_text_and_colors_come_from_config():
    html = render(logo_url="https://cdn.example.com/logo.png", accent_color="#aa3300").email_html
    assert re.search(r'<img alt="Tech Rundown"[^>]*src="https://cdn.example.com/logo.png"', html)
    assert "color:#aa3300" in html


def test_share_links_can_be_turned_off():
    assert "Share:" not in visible_text(render(share_links=False).email_html)


def test_user_templates_override_one_partial_and_keep_the_rest(tmp_path):
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "footer.mjml.j2").write_text(
        '<mj-section><mj-column><mj-text>Custom footer for {{ sender_name }} '
        '<a href="{{ placeholders.unsubscribe_url }}">leave</a></mj-text></mj-column></mj-section>\n')
    html = render(templates_dir=tmp_path, sender_name="Rundown & Co").email_html
    text = visible_text(html)
    assert "Custom footer for Rundown & Co" in text
    assert "Powered by digest" not in text
    assert "In today's digest:" in text


def test_a_broken_user_template_names_its_file_and_line(tmp_path):
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "story.mjml.j2").write_text("<mj-section>\n{% if %}\n")
    with pytest.raises(RenderError, match=r"story\.mjml\.j2:2: "):
        render(templates_dir=tmp_path)


def test_a_missing_templates_folder_is_an_error(tmp_path):
    with pytest.raises(RenderError, match=r"\[render\].templates_dir: .*nowhere: no such folder"):
        render(templates_dir=tmp_path / "nowhere")


def test_an_issue_without_stories_still_renders():
    empty = Issue(key="2025-01-30", date=date(2025, 1, 30), title="Tech Rundown", headline="Tech Rundown",
                  subtitle="", stories=())
    result = render(empty)
    assert "No new stories since the last issue." in visible_text(result.email_html)
    assert "No new stories since the last issue." in result.text


# --- the plain-text part ---

def test_text_part_carries_every_point_headline_and_web_link(rendered):
    flat = " ".join(rendered.text.replace("\u200b", "").split())
    for story in rendered.issue.stories:
        assert story.headline in flat
        assert "The Rundown: " + story.rundown in flat
        for point in story.details:
            assert point.text in flat
        for ref in story.story.sources:
            assert ref.name in flat
            if ref.url.startswith("https://"):
                assert f"\n    {ref.url}\n" in rendered.text
    for hit in rendered.issue.quick_hits:
        assert hit.headline in flat
    assert "file:" not in rendered.text
    assert "Read online: http://127.0.0.1:8025/archive/2025-01-29/" in rendered.text


def test_text_part_wraps_near_72_columns_and_only_long_links_stick_out(rendered):
    long_lines = [line for line in rendered.text.splitlines() if len(line) > 72]
    assert all(len(line.split()) == 1 and line.strip().startswith("https://") for line in long_lines), long_lines
    assert max(len(line) for line in rendered.text.splitlines() if " " in line.strip()) <= 72


def test_text_part_is_written_text_not_an_html_dump(rendered):
    for markup in ("<p", "<li", "<div", "<a ", "&amp;", "&lt;", "&#"):
        assert markup not in rendered.text
    assert "  * Shares rose 5% <b>overnight</b> & analysts said \"wow\" <img src=x\n    onerror=alert(1)>" in rendered.text
    found = positions(rendered.text, [
        "TECH RUNDOWN | January 29, 2025", "Read online:", "Good morning, [[digest:greeting_name]].",
        "In today's digest:", "The Rundown:", "The details:", "Why it matters:", "Sources:", "QUICK HITS",
        "Update your email preferences: [[digest:preferences_url]]", "Unsubscribe: [[digest:unsubscribe_url]]",
        "228 Park Ave S", "Powered by digest",
    ])
    assert found == sorted(found)
    assert "\n\n\n" not in rendered.text


# --- digest.json and the files ---

def test_json_lists_stories_in_rank_order_with_points_and_sources(rendered):
    doc = json.loads(rendered.json)
    assert {k: doc[k] for k in ("key", "date", "title")} == {"key": "2025-01-29", "date": "2025-01-29",
                                                              "title": "Tech Rundown"}
    assert doc["headline"] == "Story 1: chips, models and money"
    assert doc["subtitle"].startswith("Rundown 1:")
    assert [s["rank"] for s in doc["stories"]] == list(range(1, 11))
    assert [s["rank"] for s in doc["quick_hits"]] == [11, 12, 13]
    first = doc["stories"][0]
    assert first["details"][0] == {
        "text": "Key point 1.1: DeepSeek trained R1 for about $6.6M on H800 chips, a figure analysts keep "
                "arguing about.", "score": 0.9, "source_ids": ["s1a1"]}
    assert first["sources"][0] == {"id": "s1a0", "name": "Ars Technica",
                                   "url": "https://news0.example.com/2025/01/29/story-1?ref=rss&utm=x\"y",
                                   "published": "2025-01-29T05:00:00+00:00"}
    assert first["article_ids"] == ["s1a0", "s1a1", "s1a2"]
    assert first["merged_article_ids"] == ["s1dup"]
    assert doc["stories"][4]["why_it_matters"] is None
    assert doc["stories"][1]["headline"] == HOSTILE_TITLE


def test_write_issue_writes_the_five_files(tmp_path, rendered):
    folder = write_issue(rendered, tmp_path / "out")
    assert folder == tmp_path / "out" / "2025-01-29"
    assert sorted(p.name for p in folder.iterdir()) == ["digest.json", "digest.mjml", "digest.txt", "email.html",
                                                        "index.html"]
    assert (folder / "email.html").read_text(encoding="utf-8") == rendered.email_html
    assert (folder / "index.html").read_text(encoding="utf-8") == rendered.archive_html
    assert (folder / "digest.mjml").read_text(encoding="utf-8").startswith('<mjml lang="en">')


def test_archive_page_lists_issues_newest_first_with_relative_links(tmp_path):
    entries = [ArchiveEntry("2025-01-28", date(2025, 1, 28), "Older <news>"),
               ArchiveEntry("2025-01-29", date(2025, 1, 29), "Newer news", "The subtitle")]
    page = render_archive(entries, digest=DigestSection(), settings=RenderSection(), templates_dir=BUILTIN_TEMPLATES)
    path = write_archive(page, tmp_path)
    assert path == tmp_path / "index.html"
    assert [(link.href, link.text) for link in links(page)] == [
        ("2025-01-29/index.html", "Newer news"), ("2025-01-28/index.html", "Older <news>")]
    assert "Older &lt;news&gt;" in page
    assert '<html lang="en">' in page


def test_rendering_twice_gives_identical_output():
    issue = hostile_issue()
    first, second = render(issue), render(issue)
    assert first == second


def test_headline_links_to_the_first_web_source():
    summary = make_summary(1)
    issue = Issue(key="k", date=date(2025, 1, 29), title="T", headline="H", subtitle="S", stories=(summary,))
    html = render(issue).email_html
    assert any(link.text == summary.headline and link.href == summary.story.articles[0].url for link in links(html))
    kicker_issue = replace(issue, stories=(replace(summary, kicker=""),))
    text = visible_text(render(kicker_issue).email_html)
    assert "Ars Technica, TechCrunch, Wired" in text


def test_render_config_rejects_a_bad_language_and_an_empty_postal_address(make_config):
    with pytest.raises(ConfigError) as caught:
        make_config(render={"language": "en US", "postal_address": " ", "accent_color": "blue"})
    assert str(caught.value).splitlines() == [
        "config.toml: [render].language: expected a language tag like en or pt-BR, got 'en US'",
        "config.toml: [render].postal_address: must not be empty (anti-spam law requires a postal address)",
        "config.toml: [render].accent_color: expected a color like #1a2b3c, got 'blue'",
    ]
    assert make_config(render={"language": "pt-BR", "share_links": False}).render.share_links is False
