"""Article files: the five seeds, Markdown, HTML, folders; boilerplate stripped line by line."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config import IngestSection
from digest.ingest import load_articles
from digest.ingest.clean import clean_paragraphs, is_boilerplate, parse_date, read_text_article

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SETTINGS = IngestSection()


def seed(prefix: str):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    (article,) = load_articles(str(path.relative_to(ROOT)), base_dir=ROOT, settings=SETTINGS, source_name="Seed")
    return article


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize("prefix,title,published", [
    ("000", "DeepSeek's AI Breakthrough Shakes Up U.S. Tech Industry", utc(2025, 1, 29)),
    ("001", "The U.S. tech industry was thrown into disarray this week following the release of DeepSeek’s AI model",
     utc(2025, 1, 31)),
    ("002", "DeepSeek's $5M AI Model Matches OpenAI: When Export Controls Backfire", utc(2025, 1, 27)),
    ("003", "DeepSeek challenges the AI dominance of Silicon Valley", utc(2025, 1, 29, 11, 14)),
    ("004", "DeepSeek’s emergence has introduced fresh challenges to US and Chinese AI firms and policymakers alike",
     None),
])
def test_seed_has_its_title_and_the_date_it_carries(prefix, title, published):
    article = seed(prefix)

    assert article.title == title
    assert article.published == published
    assert article.source == "Seed"
    assert article.url.startswith("file://") and article.url.endswith(".txt")
    assert article.html == ""


# Every line of the seeds that is not the article's own text (and the title and date lines, which are metadata).
BOILERPLATE = {
    "000": ["DeepSeek's AI Breakthrough Shakes Up U.S. Tech Industry", "January 29, 2025"],
    "001": ["date 2025-01-31"],
    "002": [
        "January 27, 2025 | Read Online",
        "DeepSeek's $5M AI Model Matches OpenAI: When Export Controls Backfire",
        "share on facebook", "share on twitter", "share on threads", "share on linkedin",
        "In partnership with",
        "Thank you for your support on running ads, these let me continue to deliver high-quality analysis for free, "
        "in perpetuity.",
        "Stay up-to-date with AI",
        "The Rundown is the most trusted AI newsletter in the world",
        "Their expert research team spends all day learning what’s new in AI",
        "Plus, complete the quiz after signing up",
        "Sign up to start learning.",
        "https://www.reddit.com/r/singularity/comments/1i8xfm1/billionaire_and_scale_ai_ceo_alexandr_wang/",
        "Update your email preferences or unsubscribe here",
        "© 2025 Tech Rundown",
        "228 Park Ave S, #29976, New York, New York 10003, United States",
        "beehiiv logoPowered by beehiiv",
        "Terms of Service",
    ],
    "003": [
        "Explore our Topics:", "DeepSeek challenges the AI dominance of Silicon Valley", "By admin",
        "Jan 29, 2025, 11:14 AM", "Show Your Support", "Subscribe", "Newsletter Logo",
        "Subscribe to our topic-centric newsletters to get the latest insights delivered to your inbox weekly.",
        "Enter your information below",
        "By submitting this form, you are agreeing to DHI’s Privacy Policy and Terms of Use.",
    ],
    "004": [
        "DeepSeek’s emergence has introduced fresh challenges to US and Chinese AI firms and policymakers alike",
        "What next", "Subsidiary Impacts", "Analysis", "Increased self-sufficiency", "Domestic reaction",
        "US sanctions", "Open-source",
    ],
}


@pytest.mark.parametrize("prefix", sorted(BOILERPLATE))
def test_no_boilerplate_line_of_a_seed_survives(prefix):
    paragraphs = seed(prefix).text.split("\n\n")

    for line in BOILERPLATE[prefix]:
        assert not any(p.startswith(line) for p in paragraphs), f"{line!r} survived in seed {prefix}"
    for paragraph in paragraphs:
        assert paragraph == paragraph.strip() and "\n" not in paragraph
        assert not paragraph.startswith(("date ", "By ", "http", "©", "share on"))


@pytest.mark.parametrize("prefix,first,last,count", [
    ("000", "Chinese Startup DeepSeek Challenges U.S. Export Controls with Cost-Effective AI Model, Disrupting Markets.",
     "With each passing day", 13),
    ("001", "The U.S. tech industry was thrown into disarray this week", "For now, DeepSeek’s rise serves", 15),
    ("002", "How U.S. export controls accidentally created their strongest AI competitor",
     "DeepSeek's breakthrough demonstrates", 18),
    ("003", "DeepSeek, a Chinese startup, rattled Silicon Valley", "The market panic might settle", 15),
    ("004", "The launch of DeepSeek’s latest open-source AI model on 20 January", "This has multiple benefits", 24),
])
def test_seed_keeps_its_own_paragraphs(prefix, first, last, count):
    paragraphs = seed(prefix).text.split("\n\n")

    assert paragraphs[0].startswith(first)
    assert paragraphs[-1].startswith(last)
    assert len(paragraphs) == count


def test_newsletter_body_starts_after_the_sponsor_block():
    paragraphs = seed("002").text.split("\n\n")

    assert paragraphs[1].startswith("In a development that has caught the attention of the AI industry")
    assert not any("Rundown" in p for p in paragraphs)


def test_bullets_become_paragraphs_without_their_marker():
    paragraphs = seed("004").text.split("\n\n")

    assert paragraphs[1] == ("The share price of semiconductor firms will recover, as lower costs would lead to a "
                             "wider availability of AI.")


def test_seed_ids_are_stable_and_derived_from_the_relative_path(tmp_path):
    here = seed("000")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (moved,) = load_articles("seeds/000_8bba25c887b0744b.txt", base_dir=tmp_path, settings=SETTINGS,
                             source_name="Seed")

    assert here.id == moved.id
    assert len(here.id) == 16


def test_folder_of_articles_gives_one_article_per_file():
    articles = load_articles("seeds", base_dir=ROOT, settings=SETTINGS)

    assert len(articles) == 5
    assert {a.source for a in articles} == {"seeds"}
    assert len({a.id for a in articles}) == 5


def test_markdown_file_with_front_matter(tmp_path):
    (tmp_path / "post.md").write_text(
        "---\ntitle: \"Front matter title\"\ndate: 2025-02-03\nauthor: Kim Lee\n---\n\n"
        "# Heading one\n\nThe **first** paragraph links [a site](https://example.com/?utm_source=x) "
        "and has an ![image](x.png) in it.\n\n## A section\n\nThe second paragraph of the post is wrapped\nacross two lines.\n",
        encoding="utf-8",
    )

    (article,) = load_articles("post.md", base_dir=tmp_path, settings=SETTINGS)

    assert article.title == "Front matter title"
    assert article.published == utc(2025, 2, 3)
    assert article.author == "Kim Lee"
    assert article.text == ("The first paragraph links a site and has an in it.\n\n"
                            "The second paragraph of the post is wrapped across two lines.")


def test_html_file_is_extracted_and_sanitized():
    (article,) = load_articles("fixtures/ingest/page.html", base_dir=ROOT / "tests", settings=SETTINGS)

    assert article.title == "Full story of the teaser"
    assert article.author == "Page Author"
    assert article.published == utc(2025, 1, 29)
    assert article.text.startswith("The first lines of the story are followed here by the rest of it")
    assert "All rights reserved" not in article.text
    assert "<script" not in article.html and "onclick" not in article.html and "<iframe" not in article.html


def test_latin1_text_file_is_decoded(tmp_path):
    (tmp_path / "old.txt").write_bytes("Caf\xe9 owners protest new rules\n\nThe caf\xe9 owners of the town "
                                       "protested on Monday against the new opening-hours rules.\n".encode("latin-1"))

    (article,) = load_articles("old.txt", base_dir=tmp_path, settings=SETTINGS)

    assert article.title == "Café owners protest new rules"


@pytest.mark.parametrize("text,expected", [
    ("January 29, 2025", utc(2025, 1, 29)),
    ("Jan 29, 2025, 11:14 AM", utc(2025, 1, 29, 11, 14)),
    ("Published: 3 February 2025", utc(2025, 2, 3)),
    ("Wednesday, January 29, 2025 at 3:05 pm EST", utc(2025, 1, 29, 20, 5)),
    ("2025-01-29T10:00:00+02:00", utc(2025, 1, 29, 8)),
    ("Sept. 4th, 2024", utc(2024, 9, 4)),
    ("The launch on 20 January changed things", None),
    ("February 30, 2025", None),
])
def test_date_phrases(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("line", [
    "Share on Facebook", "Tweet this", "Facebook | Twitter | LinkedIn", "View this email in your browser",
    "Read Online", "Subscribe to our newsletter for free", "Sign up", "Already a subscriber? Log in",
    "By subscribing you agree to our Terms", "Advertisement", "Sponsored", "Explore our topics:", "Skip to content",
    "Read more", "Related articles", "© 2024 Example Media", "Copyright 2025 Example Inc. All rights reserved.",
    "Privacy Policy | Terms of Use | Contact Us", "Powered by Ghost", "1 Infinite Loop, Cupertino, CA 95014, USA",
    "10 Downing Street, London, SW1A 2AA, United Kingdom", "Photo: Getty Images", "https://t.co/abc123", "5 min read",
    "Click here to unsubscribe",
])
def test_kinds_of_boilerplate_lines(line):
    assert is_boilerplate(line)


@pytest.mark.parametrize("line", [
    "Share prices fell 17% on Monday as investors weighed the news.",
    "Users can unsubscribe from the service's data collection, the company said in a statement on Tuesday.",
    "Subscribers to the premium plan will pay $20 a month from March, up from $15, the company announced.",
    "The address, 1600 Amphitheatre Parkway, is now home to three teams.",
    "By 2030, the company expects to double its revenue.",
    "Copyright lawyers say the ruling could reshape how AI models are trained on published works.",
])
def test_prose_that_mentions_boilerplate_words_is_kept(line):
    assert not is_boilerplate(line)


def test_sponsor_block_without_call_to_action_ends_with_its_paragraph():
    article = read_text_article(
        "A Headline For The Test\n\nThe first paragraph of the story is long enough to count as body text.\n\n"
        "Together with Acme\nAcme makes the best widgets in the world for teams of every size.\n\n"
        "The story goes on after the sponsor with a second paragraph of its own text.\n"
    )

    assert article.title == "A Headline For The Test"
    assert article.paragraphs == (
        "The first paragraph of the story is long enough to count as body text.",
        "The story goes on after the sponsor with a second paragraph of its own text.",
    )


def test_clean_paragraphs_drops_share_and_footer_paragraphs():
    assert clean_paragraphs(["Real news paragraph.", "Share on Twitter", "© 2025 Example", "Terms of Service"]) == [
        "Real news paragraph."]


def test_digest_ingest_on_the_default_config_prints_the_counts(tmp_path):
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    runner = CliRunner()

    first = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "ingest"])
    second = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "ingest"])
    listing = runner.invoke(main, ["--config", str(tmp_path / "config.toml"), "sources"])

    assert first.exit_code == 0, first.output
    assert first.output.startswith("5 sources: 5 new articles, 0 updated, 0 unchanged. 5 articles stored in ")
    assert second.output.startswith("5 sources: 0 new articles, 0 updated, 5 unchanged. 5 articles stored in ")
    assert listing.exit_code == 0
    assert [line.split()[:2] + line.split()[5:8] for line in listing.output.splitlines()[1:]] == [
        ["Sample", str(i), "ok", "1", "1"] for i in range(1, 6)]


def test_an_advertisement_label_between_paragraphs_takes_only_itself():
    assert clean_paragraphs(["First paragraph of the story.", "Advertisement", "Second paragraph of the story.",
                             "Sponsored", "Third paragraph."]) == [
        "First paragraph of the story.", "Second paragraph of the story.", "Third paragraph."]
