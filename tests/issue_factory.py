"""Build Issue objects for render tests and the render benchmark, hostile strings included.

`hostile_issue()` is a 10-story issue whose feed strings try to break out of
the HTML (a <script> title, quotes in URLs, a placeholder token in a title)
or out of a phone's width (a 160-character link in a key point), with a local
file:// source next to web ones.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from digest.models import Issue, KeyPoint, Story, Summary
from tests.conftest import make_article

HOSTILE_TITLE = '<script>alert("pwned")</script> & Co\'s "AI" chip'
HOSTILE_POINT = "Shares rose 5% <b>overnight</b> & analysts said \"wow\" <img src=x onerror=alert(1)>"
PLACEHOLDER_IN_FEED = "Spoof [[digest:unsubscribe_url]] in a title"
LONG_LINK_POINT = "The filing is at https://sec.example.gov/Archives/edgar/data/" + "0" * 120 + "/r1.htm today."
OUTLETS = ("The Verge", "Ars Technica", "TechCrunch", "Wired", "Reuters")


def make_summary(n: int, *, headline: str | None = None, points: int = 5, file_source: bool = False,
                 why: str | None = "It changes what the next year of AI spending looks like.") -> Summary:
    """Story number `n`: three outlets (one a local file when `file_source`), `points` key points."""
    when = datetime(2025, 1, 29, 6, 0, tzinfo=timezone.utc) - timedelta(hours=n)
    articles = []
    for j in range(3):
        outlet = OUTLETS[(n + j) % len(OUTLETS)]
        url = f"https://news{j}.example.com/2025/01/29/story-{n}?ref=rss&utm=x\"y"
        if file_source and j == 2:
            outlet, url = "Local notes", f"file:///srv/seeds/story-{n}.txt"
        articles.append(make_article(id=f"s{n}a{j}", url=url, source=outlet, title=f"Story {n} from {outlet}",
                                     published=when))
    story = Story(id=f"story{n:02d}", headline=headline or f"Story {n}: chips, models and money",
                  articles=tuple(articles), first_seen=when, last_seen=when,
                  aliases={f"s{n}a0": (f"s{n}dup",)})
    details = tuple(
        KeyPoint(f"Key point {n}.{k}: DeepSeek trained R1 for about ${k + 5}.6M on H800 chips, a figure "
                 f"analysts keep arguing about.", 1.0 - k / 10, (f"s{n}a{k % 3}",))
        for k in range(1, points + 1)
    )
    return Summary(story=story, headline=story.headline,
                   rundown=f"Rundown {n}: a Chinese lab matched OpenAI's o1 at a fraction of the cost, "
                           f"and markets noticed.",
                   details=details, why_it_matters=why, kicker=f"{OUTLETS[n % 5]}, Nvidia", score=10.0 - n)


def hostile_issue(stories: int = 10, quick_hits: int = 3) -> Issue:
    """A `stories`-story issue with hostile feed strings, then `quick_hits` one-liners."""
    summaries = []
    for n in range(1, stories + quick_hits + 1):
        headline = HOSTILE_TITLE if n == 2 else PLACEHOLDER_IN_FEED if n == 3 else None
        s = make_summary(n, headline=headline, file_source=(n == 4), why=None if n == 5 else
                         "It changes what the next year of AI spending looks like.")
        if n == 2:
            s = Summary(story=s.story, headline=s.headline, rundown=s.rundown,
                        details=(KeyPoint(HOSTILE_POINT, 0.9, ("s2a0",)), *s.details[1:]),
                        why_it_matters=s.why_it_matters, kicker=s.kicker, score=s.score)
        if n == 6:
            s = Summary(story=s.story, headline=s.headline, rundown=s.rundown,
                        details=(*s.details[:-1], KeyPoint(LONG_LINK_POINT, 0.5, ("s6a0",))),
                        why_it_matters=s.why_it_matters, kicker=s.kicker, score=s.score)
        summaries.append(s)
    top = summaries[0]
    return Issue(key="2025-01-29", date=date(2025, 1, 29), title="Tech Rundown", headline=top.headline,
                 subtitle=top.rundown, stories=tuple(summaries[:stories]),
                 quick_hits=tuple(summaries[stories:]))
