"""Summarize stage: one Story -> a Summary in the Tech Rundown shape, offline and deterministic.

How a key point is chosen
-------------------------
1. **Candidates.** Every body sentence of every article (headings, Title-Case
   deks and boilerplate lines skipped), cleaned to stand alone: a leading
   connective ("However,", "But") is cut; a sentence that leans on an earlier
   one ("He said", "This ...", "Their ..."), holds half a quote, asks a
   question, speaks in the first person, or carries boilerplate is refused.
   Longer than ``max_point_words``: cut before a trailing clause (", which
   ...", "; ...", "— ..." running to the end) when the head is a sentence of
   at least 8 words, otherwise refused; an aside between commas or dashes is
   never cut, as that would leave a subject without its verb.
2. **Base score** of a sentence (each term in 0..1)::

       base = 0.35 * central + 0.35 * concrete + 0.30 * lead   (x penalties)

   - *central*: sum over its content words of how widely the story uses them
     (0.7 x share of the other articles using the word + 0.3 x its repetition),
     divided by sqrt(word count), then scaled so the best sentence has 1.
   - *concrete*: 0.3 per significant number (money, percentages, counts >= 10)
     + 0.1 per other number (versions, days, years; two at most) + 0.12 per
     named company or person + 0.1 for a date word, capped at 1.
   - *lead*: 1 / (1 + position / 3): an article's first usable sentence
     weighs 1, its fourth 0.5, its tenth 0.25 (positions skip refused
     sentences, so an ad block does not bury the lead).
   - penalties: x0.7 when mostly a quotation, x0.85 for hedging ("may",
     "could") without a significant figure, x0.8 with neither a number nor a
     name, x0.8 when it opens on a back-reference ("The impact was ...").
3. **Facts across outlets.** The best sentences (10 per article, 30 to 60)
   are grouped greedily: two sentences are one fact when their content-word
   Dice overlap is >= 0.5, or when they name a shared company or person and
   carry the same number within 12 % ("$5.6 million" = "$6M", "17%" =
   "nearly 17 percent"); a common number ("3%") needs a Dice overlap of 0.3
   too. A fact's score is the best member's base x (1 + 0.6 x log2(independent
   outlets)), so a fact three outlets report scores ~1.95x the same sentence
   from one outlet.
4. **Selection.** The Rundown is the fact with the best score x (1 - 0.15 x
   position) x (1 for the first article, the best one, 0.7 for others) among
   the first three usable sentences of each article, plus its article's next
   sentence when the first is under 22 words and the next names a figure or
   a name. The details are picked by MMR (0.7 x score - 0.3 x similarity
   to what is already chosen); a near-copy of a chosen point is folded into
   it, adding its sources. ``KeyPoint.score`` is the fact score divided by
   the story's best, so the first point is near 1.
5. **Why it matters** is, among the sentences not chosen nor close to a
   chosen one, the best by 0.4 x central + 0.4 x consequences (distinct
   effects named: markets, prices, competition, users, policy ..., three
   for 1) + 0.2 x names, of those that speak of consequences at all (a modal
   or future verb and an effect); None when no sentence qualifies. Nothing is ever written
   that no outlet wrote.

With ``[summarize] backend = "llm"`` the extractive summary is produced first
and then offered to the LLM for rewriting (see `digest.summarize.llm`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from itertools import chain, repeat

from ..config import LLMSection, SummarizeSection
from ..models import KeyPoint, Story, Summary
from . import facts
from .cleaning import has_boilerplate, strip_dateline, word_count
from .sentences import body_sentences
from .scoring import (
    DUPLICATE_AT,
    Candidate,
    Fact,
    cluster_facts,
    consequence_strength,
    extract_candidates,
    is_consequence,
    score_candidates,
    select_mmr,
)

__all__ = ["summarize_story", "trim_summary"]

log = logging.getLogger(__name__)

RUNDOWN_POSITIONS = 3  # The Rundown comes from an article's first three sentences
RUNDOWN_OTHER_ARTICLE = 0.7  # weight of a lead from any article but the first
RUNDOWN_SECOND_BELOW = 22  # a shorter first Rundown sentence gets its article's next sentence too
KICKER_NAMES = 3
_TITLE_SUFFIX = re.compile(r"\s+[|–—-]\s+[^|–—-]{2,40}$")


def summarize_story(
    story: Story,
    settings: SummarizeSection,
    *,
    max_points: int,
    min_points: int,
    llm: LLMSection | None = None,
) -> Summary:
    """Summarize one story: headline, The Rundown, ranked details, Why it matters, kicker."""
    summary = summarize_extractive(story, settings, max_points=max_points, min_points=min_points)
    if llm is not None:
        from .llm import refine_with_llm

        summary = refine_with_llm(summary, llm, max_points=max_points)
    return summary


def summarize_extractive(story: Story, settings: SummarizeSection, *, max_points: int, min_points: int) -> Summary:
    """The offline summary: every word in it is an outlet's own."""
    max_words = settings.max_point_words
    cands = extract_candidates(story.articles, max_words)
    vocabulary = score_candidates(cands, len(story.articles))
    clusters = cluster_facts(cands)

    rundown, used = _rundown(clusters, cands, max_words)
    chosen: list[Fact | Candidate] = list(used)
    taken = set(used)  # facts and candidates hash by identity
    pool = [f for f in clusters if f not in taken and taken.isdisjoint(f.members)]
    picked = select_mmr(pool, chosen, max_points)
    if len(picked) < min_points:
        log.debug("story=%s only %d points qualify (min %d)", story.id, len(picked), min_points)
    top = max((f.score for f in picked), default=0.0) or 1.0
    picked.sort(key=lambda f: -f.score)
    details = tuple(KeyPoint(f.point or "", round(f.score / top, 3), f.article_ids) for f in picked)

    why = _why_it_matters(cands, [*chosen, *picked])
    if not rundown and details:  # no usable lead: promote the first point
        rundown, details = details[0].text, details[1:]
    if not rundown:  # a title-only feed item or a teaser: its own first line is all there is
        rundown = _first_line(story)
    return Summary(
        story=story,
        headline=_headline(story, vocabulary),
        rundown=rundown,
        details=details,
        why_it_matters=why,
        kicker=_kicker(story, cands),
    )


def _rundown(clusters: list[Fact], cands: list[Candidate], max_words: int) -> tuple[str, list[Fact | Candidate]]:
    best: tuple[float, Fact, Candidate] | None = None
    for f in clusters:
        for m in f.members:
            if m.position < RUNDOWN_POSITIONS:
                # the first article is the best one (dedup orders them): its lead is the natural Rundown
                value = f.score * (1.0 - 0.15 * m.position) * (1.0 if m.article_index == 0 else RUNDOWN_OTHER_ARTICLE)
                if best is None or value > best[0]:
                    best = (value, f, m)
    if best is None:
        return "", []
    _, fact, lead = best
    text, used = lead.long, [fact]
    if word_count(text) < RUNDOWN_SECOND_BELOW:
        nxt = next((c for c in cands if c.article_index == lead.article_index and c.position == lead.position + 1), None)
        if nxt and (nxt.numbers or nxt.entities) and word_count(text) + word_count(nxt.long) <= 2 * max_words:
            text = f"{text} {nxt.long}"
            used.append(nxt)
    return text, used


def _why_it_matters(cands: list[Candidate], chosen: list[Fact | Candidate]) -> str | None:
    best: tuple[float, str] | None = None
    for c in cands:
        if not c.point or c.quote_share > 0.4:
            continue
        names = 0.2 * min(1.0, len(c.entities) / 2)
        if best is not None and 0.4 * c.central + 0.4 + names <= best[0]:
            continue  # cannot win even naming every effect: spare the keyword tests
        if not is_consequence(c):
            continue
        ceiling = 0.4 * c.central + 0.4 * consequence_strength(c) + names
        if best is not None and ceiling <= best[0]:
            continue  # cannot win even with no overlap: spare the similarity to every chosen point
        overlap = max((f.similarity(c) for f in chosen), default=0.0)
        if overlap >= DUPLICATE_AT:
            continue
        value = ceiling - 0.3 * overlap
        if best is None or value > best[0]:
            best = (value, c.point)
    return best[1] if best else None


def _first_line(story: Story) -> str:
    for article in story.articles:
        for sentence in body_sentences(article.text):
            if word_count(sentence) >= 4:
                return sentence
    return story.headline


def _headline(story: Story, vocabulary: Counter[str]) -> str:
    """The story's headline, or the article title that best names the story when it is junk.

    `vocabulary`: how often the story's sentences use each content stem.
    """
    options = dict.fromkeys([story.headline, *(a.title for a in story.articles)])  # a repeat cannot score higher
    best: tuple[float, str] | None = None
    for i, raw in enumerate(options):
        title = _without_site_name(strip_dateline(raw or "")).strip()
        n = word_count(title)
        if not 4 <= n <= 18 or title.endswith(":") or has_boilerplate(title):
            continue
        stems = facts.content_stems(facts.words(title))
        uses = map(vocabulary.get, stems, repeat(0))  # .get: a Counter's __missing__ is a Python call
        coverage = sum(map(min, uses, repeat(5))) / (5 * max(len(stems), 1))
        value = coverage - 0.02 * max(0, n - 12) + (0.05 if i == 0 else 0.0)
        if best is None or value > best[0]:
            best = (value, title)
    if best:
        return best[1]
    return story.headline or (story.articles[0].title if story.articles else "")


def _without_site_name(title: str) -> str:
    """ "Nvidia loses $593bn | The Verge" -> "Nvidia loses $593bn"; most titles hold no separator for the regex."""
    if "|" in title or "-" in title or "–" in title or "—" in title:
        return _TITLE_SUFFIX.sub("", title)
    return title


def _kicker(story: Story, cands: list[Candidate]) -> str:
    """The names most outlets mention (companies, people), or the outlets when none stand out."""
    names = list(chain.from_iterable(c.names for c in cands))
    lowered = list(map(str.lower, names))
    count = Counter(lowered)
    per_article: dict[int, set[str]] = {}
    for c in cands:
        if c.names:
            per_article.setdefault(c.article_index, set()).update(map(str.lower, c.names))
    spread = Counter(chain.from_iterable(per_article.values()))  # how many articles name it
    needed = 2 if len(story.articles) > 1 else 1
    shared = [w for w, n in count.items() if n >= 2 and spread[w] >= needed]
    chosen = sorted(shared, key=lambda w: (-spread[w], -count[w], w))[:KICKER_NAMES]
    if not chosen:
        return " · ".join(dict.fromkeys(a.source for a in story.articles))
    forms: dict[str, Counter[str]] = {w: Counter() for w in chosen}  # "DeepSeek" over "Deepseek"
    for name, low in zip(names, lowered):
        if low in forms:
            forms[low][name] += 1
    return " · ".join(forms[w].most_common(1)[0][0] for w in chosen)


def trim_summary(summary: Summary, max_words: int) -> Summary:
    """Drop the lowest details, then Why it matters, until the summary is at most `max_words` words."""

    def total(s: Summary) -> int:
        return (word_count(s.headline) + word_count(s.rundown) + sum(word_count(p.text) for p in s.details)
                + word_count(s.why_it_matters or ""))

    while total(summary) > max_words and summary.details:
        summary = replace(summary, details=summary.details[:-1])
    if total(summary) > max_words and summary.why_it_matters:
        summary = replace(summary, why_it_matters=None)
    return summary
