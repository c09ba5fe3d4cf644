"""The rank stage: coverage, source weights, recency, novelty; stable ties; the issue's headline."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from digest.models import KeyPoint, Story, Summary
from digest.rank import make_issue, rank_stories, select_stories
from tests.conftest import make_article

NOW = datetime(2025, 1, 29, 12, 0, tzinfo=timezone.utc)


def summary(name: str, sources: list[str], *, age_hours: float = 1, update_of: str | None = None,
            rundown: str = "Something happened today at a company.") -> Summary:
    articles = tuple(make_article(id=f"{name}-{i}", source=src, title=name) for i, src in enumerate(sources))
    seen = NOW - timedelta(hours=age_hours)
    story = Story(id=name, headline=name, articles=articles, first_seen=seen, last_seen=seen, update_of=update_of)
    return Summary(story=story, headline=name, rundown=rundown,
                   details=(KeyPoint("A detail that is short.", 1.0, (articles[0].id,)),), why_it_matters=None)


def names(ranked: list[Summary]) -> list[str]:
    return [s.headline for s in ranked]


def test_a_story_told_by_more_outlets_ranks_higher():
    ranked = rank_stories([summary("one", ["A"]), summary("three", ["A", "B", "C"])], weights={}, now=NOW)
    assert names(ranked) == ["three", "one"]
    assert ranked[0].score > ranked[1].score


def test_two_copies_from_one_outlet_count_once():
    ranked = rank_stories([summary("same outlet twice", ["A", "A"]), summary("two outlets", ["A", "B"])],
                          weights={}, now=NOW)
    assert names(ranked) == ["two outlets", "same outlet twice"]


def test_source_weights_from_the_config_lift_a_story():
    stories = [summary("minor outlet", ["Blog"]), summary("major outlet", ["Wire"])]
    ranked = rank_stories(stories, weights={"Blog": 1.0, "Wire": 3.0}, now=NOW)
    assert names(ranked) == ["major outlet", "minor outlet"]


def test_a_fresher_story_ranks_above_an_older_one_with_the_same_coverage():
    ranked = rank_stories([summary("old", ["A", "B"], age_hours=40), summary("fresh", ["A", "B"], age_hours=1)],
                          weights={}, now=NOW)
    assert names(ranked) == ["fresh", "old"]


def test_an_update_of_an_earlier_story_ranks_below_a_new_one():
    ranked = rank_stories([summary("update", ["A", "B"], update_of="earlier"), summary("new", ["A", "B"])],
                          weights={}, now=NOW)
    assert names(ranked) == ["new", "update"]


def test_ties_keep_the_input_order():
    stories = [summary(n, ["A", "B"]) for n in ("first", "second", "third")]
    assert names(rank_stories(stories, weights={}, now=NOW)) == ["first", "second", "third"]


def test_scores_are_exact_for_known_inputs():
    ranked = rank_stories([summary("x", ["A", "B", "C"], age_hours=0)], weights={}, now=NOW)
    assert ranked[0].score == 2.0  # log2(1 + 3 outlets) x recency 1.0 x novelty 1.0


def test_the_top_story_names_the_issue_and_the_rest_become_quick_hits():
    ranked = rank_stories([summary(f"story {i}", ["A"] * 1 + ["B"] * (i % 2)) for i in range(6)], weights={}, now=NOW)
    issue = make_issue(ranked, key="2025-01-29", day=date(2025, 1, 29), title="Tech Rundown", max_stories=2,
                       quick_hits=3)
    assert issue.headline == ranked[0].headline
    assert issue.subtitle == "Something happened today at a company."
    assert len(issue.stories) == 2
    assert [s.headline for s in issue.quick_hits] == [s.headline for s in ranked[2:5]]


def test_a_long_rundown_gives_a_one_line_subtitle_from_its_first_sentence():
    long_first = "Nvidia lost $593 billion of market value on Monday as investors weighed DeepSeek's cheap model."
    top = summary("top", ["A"], rundown=f"{long_first} Shares of other chipmakers also fell sharply on the day.")
    issue = make_issue([top], key="k", day=date(2025, 1, 29), title="T", max_stories=5, quick_hits=0)
    assert issue.subtitle == long_first
    assert "\n" not in issue.subtitle


def test_an_empty_day_gives_an_issue_named_after_the_newsletter():
    issue = make_issue([], key="k", day=date(2025, 1, 29), title="Tech Rundown", max_stories=5, quick_hits=5)
    assert issue.headline == "Tech Rundown"
    assert issue.stories == ()


def test_selecting_before_summarizing_keeps_exactly_the_stories_ranking_would_keep():
    candidates = [summary("one", ["A"]), summary("old pair", ["A", "B"], age_hours=40),
                  summary("trio", ["A", "B", "C"]), summary("tie 1", ["A"]), summary("fresh pair", ["A", "B"])]
    selected = select_stories([c.story for c in candidates], weights={}, now=NOW, limit=3)
    assert [s.id for s in selected] == ["old pair", "trio", "fresh pair"]  # input order kept
    top = rank_stories(candidates, weights={}, now=NOW)[:3]
    assert {s.story.id for s in top} == {s.id for s in selected}
