"""The dedup stage: copies collapse, one event becomes one story, earlier issues are remembered."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import pipeline, storage
from digest.cli import main
from digest.config import DedupSection, load_config
from digest.dedup import group_stories, story_id
from digest.dedup.evaluate import bcubed, load_labeled, pairwise, predicted_labels
from digest.errors import ConfigError
from digest.models import Article, PastStory, Story
from tests.conftest import SEEDS, make_article

DATA = Path(__file__).resolve().parent / "data" / "dedup"
SETTINGS = DedupSection()
T0 = datetime(2025, 4, 15, 12, 0, tzinfo=timezone.utc)


def load_corpus(name: str = "corpus") -> tuple[list[Article], dict[str, str]]:
    """A labeled corpus (tests/data/dedup/<name>.jsonl): articles and their gold story labels."""
    return load_labeled(DATA / f"{name}.jsonl")


CORPUS_ARTICLES, GOLD = load_corpus()
BY_ID = {a.id: a for a in CORPUS_ARTICLES}


def of_story(*labels: str) -> list[Article]:
    return [a for a in CORPUS_ARTICLES if GOLD[a.id] in labels]


def membership(stories: list[Story]) -> list[list[str]]:
    """Each story as the sorted ids of its kept articles, stories sorted: order-free comparison."""
    return sorted(sorted(a.id for a in s.articles) for s in stories)


def story_with(stories: list[Story], article_id: str) -> Story:
    return next(s for s in stories if article_id in {a.id for a in s.articles}
                or any(article_id in ids for ids in s.aliases.values()))


# Exact duplicates


def test_tracking_parameters_and_www_do_not_defeat_url_dedup():
    first = make_article(id="a", url="https://www.example.com/story/?utm_source=rss#top", text="One text.",
                         published=T0)
    again = make_article(id="b", url="https://example.com/story?utm_medium=feed&fbclid=x", text="Another text.",
                         published=T0 + timedelta(hours=1))
    [story] = group_stories([again, first], SETTINGS)
    assert [a.id for a in story.articles] == ["a"]
    assert story.aliases == {"a": ("b",)}


def test_same_guid_collapses_different_urls():
    first = make_article(id="a", url="https://example.com/1", guid="tag:example.com,2025:42", text="Alpha.",
                         published=T0)
    again = make_article(id="b", url="https://mirror.example.org/42", guid="tag:example.com,2025:42",
                         text="Beta.", published=T0 + timedelta(minutes=5))
    [story] = group_stories([first, again], SETTINGS)
    assert story.aliases == {"a": ("b",)}


def test_same_text_ignoring_case_whitespace_punctuation_and_links_collapses_into_the_earliest():
    text = "Nvidia said on Tuesday it expects a $5.5 billion charge.\n\nShares fell 6% after hours."
    late = make_article(id="late", url="https://b.example/x", text=text, published=T0 + timedelta(hours=2))
    early = make_article(id="early", url="https://a.example/y",
                         text="NVIDIA said on tuesday -- it expects a $5.5 billion charge!!  Shares fell 6% after "
                              "hours. https://t.example/track?utm_source=x",
                         published=T0)
    [story] = group_stories([late, early], SETTINGS)
    assert [a.id for a in story.articles] == ["early"]
    assert story.aliases == {"early": ("late",)}


def test_a_teaser_is_not_kept_over_the_full_copy_of_the_same_url():
    full = " ".join(f"Sentence {i} of the full article about the chip export rule." for i in range(40))
    teaser = make_article(id="teaser", url="https://example.com/a?utm_source=rss", text="The chip export rule.",
                          published=T0)
    article = make_article(id="full", url="https://example.com/a", text=full, published=T0 + timedelta(hours=1))
    [story] = group_stories([teaser, article], SETTINGS)
    assert [a.id for a in story.articles] == ["full"]
    assert story.aliases == {"full": ("teaser",)}


# Near-duplicates


def test_syndicated_copies_with_new_headline_byline_ad_and_footer_collapse_into_the_original():
    stories = group_stories(of_story("openai-o3-mini"), SETTINGS)
    [story] = stories
    assert story.aliases == {"a021": ("c104", "c105")}
    assert BY_ID["c105"].title != BY_ID["a021"].title  # a new headline, an ad line, an added paragraph
    assert {a.id for a in story.articles} == {"a021", "a022", "a023", "a024"}


def test_a_copy_cut_to_its_first_paragraph_collapses_by_containment():
    [story] = group_stories(of_story("chip-asml-duv"), SETTINGS)
    assert story.aliases == {"a005": ("c116",)}


def test_independent_rewrites_are_sources_not_copies():
    [story] = group_stories(of_story("samsung-guidance"), SETTINGS)
    assert sorted(a.id for a in story.articles) == ["a059", "a060", "a061"]
    assert story.aliases == {"a059": ("c114",)}


# Stories


def seed_config(tmp_path: Path, **dedup: object) -> Path:
    """A config file whose five sources are the five seed files."""
    lines = ['[digest]', 'lookback_hours = 1000000', '[storage]', 'path = "var/test.sqlite3"']
    if dedup:
        lines.append("[dedup]")
        lines += [f"{k} = {v!r}" for k, v in dedup.items()]
    for i, path in enumerate(sorted(SEEDS.glob("*.txt")), start=1):
        lines += ["[[sources]]", f'name = "Sample {i}"', f'url = "{path}"']
    target = tmp_path / "config.toml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def ingested(config_path: Path) -> list[Story]:
    config = load_config(config_path)
    conn = storage.connect(config.db_path)
    try:
        report = pipeline.ingest(config, conn)
        assert report.new == 5 and not report.failed
        return pipeline.collect_stories(config, conn, datetime.now(timezone.utc))
    finally:
        conn.close()


def test_the_five_seeds_form_one_story_with_five_sources(tmp_path):
    [story] = ingested(seed_config(tmp_path))
    assert sorted(s.name for s in story.sources) == ["Sample 1", "Sample 2", "Sample 3", "Sample 4", "Sample 5"]
    assert story.aliases == {}
    assert "DeepSeek" in story.headline
    assert story.first_seen == datetime(2025, 1, 27, tzinfo=timezone.utc)
    assert story.last_seen == datetime(2025, 1, 31, tzinfo=timezone.utc)


def test_the_seeds_stay_one_story_among_the_labeled_corpus():
    seeds = []
    for i, path in enumerate(sorted(SEEDS.glob("*.txt"))):
        title, _, body = path.read_text(encoding="utf-8").strip().partition("\n")
        seeds.append(make_article(id=f"seed{i}", url=path.as_uri(), title=title.strip(), source=f"Sample {i}",
                                  text=body.strip(), published=datetime(2025, 1, 27 + i % 3, tzinfo=timezone.utc)))
    stories = group_stories(CORPUS_ARTICLES + seeds, SETTINGS)
    assert sorted(a.id for a in story_with(stories, "seed0").articles) == [f"seed{i}" for i in range(5)]


def test_two_chip_export_stories_of_the_same_day_stay_apart():
    stories = group_stories(of_story("chip-h20-license", "chip-asml-duv"), SETTINGS)
    assert membership(stories) == [["a001", "a002", "a003", "a004"], ["a005", "a006", "a007"]]


def test_a_companys_earnings_and_its_product_launch_stay_apart():
    stories = group_stories(of_story("apple-q1-earnings", "apple-iphone-16e"), SETTINGS)
    assert membership(stories) == [["a008", "a009", "a010", "a011"], ["a012", "a013", "a014"]]


def test_two_regulators_acting_on_google_search_the_same_week_stay_apart():
    stories = group_stories(of_story("eu-dma-google", "cma-google-sms"), SETTINGS)
    assert membership(stories) == [["a034", "a035", "a036"], ["a037", "a038", "a039"]]


def test_articles_published_further_apart_than_the_window_never_join():
    h20 = of_story("chip-h20-license")
    moved = [replace(a, published=a.published + timedelta(days=10)) if a.id == "a004" else a for a in h20]
    stories = group_stories(moved, SETTINGS)
    assert membership(stories) == [["a001", "a002", "a003"], ["a004"]]
    assert membership(group_stories(moved, DedupSection(window_hours=24 * 30))) == [["a001", "a002", "a003", "a004"]]


def test_story_shape_headline_best_first_time_span_and_sources():
    [story] = group_stories(of_story("tesla-recall"), SETTINGS)
    assert story.headline == "Tesla recalls 239,000 vehicles over rearview camera failure"
    assert story.articles[0].id == "a043"
    assert story.aliases == {"a043": ("d201",)}
    assert story.first_seen == datetime(2025, 1, 3, 16, 45, tzinfo=timezone.utc)
    assert story.last_seen == datetime(2025, 1, 4, 9, 20, tzinfo=timezone.utc)
    assert [s.name for s in story.sources][0] == "EV Report"
    assert story.id == story_id(["a043", "a044", "a045", "d201"])


def test_labeled_corpus_meets_the_quality_floors():
    """99 articles, 27 stories (the bench prints the figures: 1.000 on this corpus when written)."""
    predicted = predicted_labels(group_stories(CORPUS_ARTICLES, SETTINGS))
    pair, b3 = pairwise(GOLD, predicted), bcubed(GOLD, predicted)
    assert pair.precision >= 0.97
    assert pair.f1 >= 0.93
    assert b3.f1 >= 0.95


def test_held_out_corpus_written_after_the_defaults_were_fixed_meets_the_same_floors():
    """23 articles, 8 stories (quantum chips of Microsoft and AWS, Claude 3.7 and Grok 3 the same week, ...)."""
    articles, gold = load_corpus("holdout")
    predicted = predicted_labels(group_stories(articles + CORPUS_ARTICLES, SETTINGS))
    both = {**gold, **GOLD}
    pair, b3 = pairwise(both, predicted), bcubed(both, predicted)
    assert pair.precision >= 0.97
    assert pair.f1 >= 0.93
    assert b3.f1 >= 0.95


def test_quality_metrics_count_pairs_and_items():
    gold = {"a": "x", "b": "x", "c": "x", "d": "y"}
    predicted = {"a": "1", "b": "1", "c": "2", "d": "2"}
    pair = pairwise(gold, predicted)
    assert (pair.precision, round(pair.recall, 4)) == (0.5, 0.3333)
    assert round(bcubed(gold, predicted).precision, 4) == 0.75


# Determinism


def test_the_same_input_in_any_order_gives_the_same_stories():
    expected = group_stories(CORPUS_ARTICLES, SETTINGS)
    for seed in (1, 2, 3):
        shuffled = CORPUS_ARTICLES[:]
        random.Random(seed).shuffle(shuffled)
        again = group_stories(shuffled, SETTINGS)
        assert [(s.id, s.headline, [a.id for a in s.articles], s.aliases) for s in again] == \
               [(s.id, s.headline, [a.id for a in s.articles], s.aliases) for s in expected]


def test_story_id_depends_only_on_membership():
    assert story_id(["b", "a", "c"]) == story_id(["c", "b", "a", "a"])
    assert story_id(["a", "b"]) != story_id(["a", "b", "c"])


# Memory across issues


def sent(story: Story, key_points: tuple[str, ...] = ()) -> PastStory:
    members = [a for a in CORPUS_ARTICLES if a.id in {x.id for x in story.articles}
               or any(a.id in ids for ids in story.aliases.values())]
    return PastStory(id=story.id, headline=story.headline, issue_key="2025-04-16", articles=tuple(members),
                     key_points=key_points)


H20_FOLLOW_UP = make_article(
    id="f1", url="https://circuitledger.example/news/nvidia-h20-follow-up", source="Circuit Ledger",
    title="Nvidia cuts China forecast after H20 licence rule, shares slide 7%",
    text="Nvidia told investors on Thursday that the H20 licence requirement would remove about $8 billion from "
         "its second-quarter revenue, and lowered its gross margin outlook to 58.7%. Shares fell 7% to $104.\n\n"
         "Jensen Huang said the company had written off $4.5 billion of H20 inventory and would not be able to "
         "ship an alternative chip to China before September. Kress said China revenue would fall to 5.5% of sales.",
    published=T0 + timedelta(days=2),
)


def test_a_story_sent_before_does_not_come_back_without_new_articles():
    first = group_stories(of_story("chip-h20-license"), SETTINGS)
    assert group_stories(of_story("chip-h20-license"), SETTINGS, past=[sent(first[0])]) == []


def test_a_story_sent_before_comes_back_as_an_update_when_new_articles_bring_new_facts():
    [first] = group_stories(of_story("chip-h20-license"), SETTINGS)
    [update] = group_stories(of_story("chip-h20-license") + [H20_FOLLOW_UP], SETTINGS, past=[sent(first)])
    assert update.update_of == first.id
    assert update.articles[0].id == "f1"
    assert update.headline == H20_FOLLOW_UP.title
    assert update.id != first.id


def test_a_copy_of_an_article_already_sent_does_not_bring_a_story_back():
    [first] = group_stories(of_story("chip-h20-license"), SETTINGS)
    reprint = replace(BY_ID["a002"], id="r1", url="https://reprints.example/h20", title="Reprint: H20 curbs",
                      text="By Market Wire Daily\n\n" + BY_ID["a002"].text + "\n\nRepublished with permission.")
    assert group_stories(of_story("chip-h20-license") + [reprint], SETTINGS, past=[sent(first)]) == []


def test_a_new_article_that_repeats_what_was_told_does_not_bring_a_story_back():
    [first] = group_stories(of_story("chip-h20-license"), SETTINGS)
    echo = make_article(id="e1", url="https://echo.example/h20", source="Echo", published=T0 + timedelta(days=1),
                        title="Nvidia's H20 needs a licence for China",
                        text="Nvidia said the U.S. Commerce Department now requires a licence for H20 exports to "
                             "China. The company expects charges of about $5.5 billion, and its shares fell 6%.")
    assert group_stories(of_story("chip-h20-license") + [echo], SETTINGS, past=[sent(first)]) == []


def test_a_story_sent_longer_ago_than_memory_days_is_not_matched():
    long_ago = replace(H20_FOLLOW_UP, published=T0 - timedelta(days=30))
    old = PastStory(id="old", headline=long_ago.title, issue_key="2025-03-16", articles=(long_ago,))
    [story] = group_stories(of_story("chip-h20-license"), DedupSection(memory_days=14), past=[old])
    assert story.update_of is None
    [story] = group_stories(of_story("chip-h20-license"), DedupSection(memory_days=60), past=[old])
    assert story.update_of == "old"


def test_an_article_already_sent_is_never_sent_again_however_long_ago():
    [first] = group_stories(of_story("chip-h20-license"), SETTINGS)
    old = replace(sent(first), articles=tuple(replace(a, published=a.published - timedelta(days=30))
                                              for a in sent(first).articles))
    assert group_stories(of_story("chip-h20-license"), DedupSection(memory_days=14), past=[old]) == []


def test_other_stories_pass_through_memory_unchanged():
    [h20] = group_stories(of_story("chip-h20-license"), SETTINGS)
    stories = group_stories(of_story("chip-h20-license", "chip-asml-duv"), SETTINGS, past=[sent(h20)])
    assert membership(stories) == [["a005", "a006", "a007"]]
    assert stories[0].update_of is None


# CLI and config


def test_stories_command_lists_sources_time_span_and_headline(tmp_path):
    config_path = seed_config(tmp_path)
    ingested(config_path)
    result = CliRunner().invoke(main, ["--config", str(config_path), "stories"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "1 stories from 5 articles (0 duplicate copies collapsed)."
    assert lines[2].startswith("      5  2025-01-27 00:00 - 2025-01-31 00:00  ")
    assert "DeepSeek" in lines[2]


def test_stories_json_lists_every_story_with_article_ids_and_paths(tmp_path):
    config_path = seed_config(tmp_path)
    ingested(config_path)
    result = CliRunner().invoke(main, ["--config", str(config_path), "stories", "--json"])
    assert result.exit_code == 0, result.output
    [story] = json.loads(result.output)
    assert story["sources"] == 5
    assert story["update_of"] is None
    assert sorted(a["url"] for a in story["articles"]) == sorted(p.resolve().as_uri() for p in SEEDS.glob("*.txt"))
    assert all(a["id"] and a["copies"] == [] for a in story["articles"])


def test_stories_json_shows_collapsed_copies_with_their_urls(tmp_path, make_config):
    config = make_config(digest={"lookback_hours": 1000000})
    conn = storage.connect(config.db_path)
    from digest.storage import articles as article_store
    article_store.save_articles(conn, of_story("tesla-recall"))
    conn.close()
    path = tmp_path / "config.toml"
    path.write_text('[digest]\nlookback_hours = 1000000\n[storage]\npath = "var/test.sqlite3"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "stories", "--json"])
    assert result.exit_code == 0, result.output
    [story] = json.loads(result.output)
    [lead] = [a for a in story["articles"] if a["id"] == "a043"]
    assert lead["copies"] == [{"id": "d201", "source": "EV Report", "title": BY_ID["d201"].title,
                               "url": BY_ID["d201"].url, "published": "2025-01-03T16:45:00+00:00"}]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("story_threshold", 0, "[dedup].story_threshold: must be between 0.01 and 1, got 0.0"),
    ("containment_threshold", 1.5, "[dedup].containment_threshold: must be between 0.05 and 1, got 1.5"),
    ("memory_days", -1, "[dedup].memory_days: must be at least 0, got -1"),
])
def test_dedup_settings_out_of_range_are_refused_with_the_key(make_config, key, value, message):
    with pytest.raises(ConfigError) as caught:
        make_config(dedup={key: value})
    assert message in str(caught.value)


def test_components_too_big_for_a_dense_matrix_cluster_the_same_over_their_edges():
    from digest.dedup.stories import Doc, cluster, vectorize

    vectors = vectorize([Doc(a.title, a.text) for a in CORPUS_ARTICLES])
    times = [a.published.timestamp() for a in CORPUS_ARTICLES]
    dense = cluster(vectors, range(len(CORPUS_ARTICLES)), times, 0.25, 120 * 3600)
    edges_only = cluster(vectors, range(len(CORPUS_ARTICLES)), times, 0.25, 120 * 3600, dense_limit=1)
    assert edges_only == dense
    assert len(dense) == 27


def test_big_batches_find_the_same_stories_through_blocked_candidates():
    from digest.dedup.stories import Doc, cluster, vectorize

    vectors = vectorize([Doc(a.title, a.text) for a in CORPUS_ARTICLES])
    times = [a.published.timestamp() for a in CORPUS_ARTICLES]
    exact = cluster(vectors, range(len(CORPUS_ARTICLES)), times, 0.25, 120 * 3600)
    blocked = cluster(vectors, range(len(CORPUS_ARTICLES)), times, 0.25, 120 * 3600, exact_limit=1)
    assert blocked == exact


def test_no_articles_give_no_stories_and_empty_articles_stay_apart():
    assert group_stories([], SETTINGS) == []
    blank = [make_article(id=i, url=f"https://example.com/{i}", title="", text="") for i in ("x", "y")]
    assert membership(group_stories(blank, SETTINGS)) == [["x"], ["y"]]


def test_a_junk_port_in_a_url_does_not_break_dedup():
    from digest.dedup.text import canonical_url

    assert canonical_url("http://x.com:99999/a") == "http://x.com:99999/a"
    assert canonical_url("https://www.example.com:8443/a/?utm_source=x") == "//example.com:8443/a"
