"""Candidate sentences -> scored facts -> a ranked, non-redundant selection.

The scoring is stated in full in `digest.summarize`'s docstring; the weights
are the named constants below.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter

from ..models import Article
from . import facts
from .cleaning import QUOTED, fit_length, stand_alone, word_count
from .sentences import body_sentences

W_CENTRAL = 0.35  # shares the story's vocabulary (words several outlets use)
W_CONCRETE = 0.35  # numbers, money, dates, named companies and people
W_LEAD = 0.30  # early in its article
CENTRAL_LENGTH_EXPONENT = 0.5  # central = sum of topic weights / words ** this (0.5: longer sentences gain a little)
LEAD_HALF_LIFE = 3  # sentence position at which the lead weight halves
SUPPORT_GAIN = 0.6  # score x (1 + SUPPORT_GAIN * log2(independent outlets))
QUOTE_PENALTY = 0.7  # mostly a quotation: commentary more than fact
HEDGE_PENALTY = 0.85  # "may", "might", "could" with no figure to back it
GENERIC_PENALTY = 0.8  # neither a number nor a name
BACK_REFERENCE_PENALTY = 0.8  # "The impact was ...", "The company said ...": reads better after its antecedent
DUPLICATE_AT = 0.5  # facts.similarity at or above which two sentences are one fact
MMR_LAMBDA = 0.7  # importance vs. novelty against points already chosen
CLUSTERED_PER_ARTICLE = 10  # only the best candidates are grouped into facts: 10 per article,
CLUSTERED_RANGE = (30, 60)  # at least 30 and at most 60, so a story costs O(60^2) comparisons at worst

_BACK_REFERENCE = re.compile(
    r"^The (?:impact|move|deal|news|decision|company|firm|startup|app|result|effect|development|announcement"
    r"|report|change|reason|outcome|same|latter|former|problem|issue)\b")
# Keyword tests run on a sentence's lower-cased word set: much faster than IGNORECASE regexes.
_HEDGE_WORDS = frozenset("may might could perhaps possibly likely suggest suggests appear appears seem seems".split())
_DATE_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april june july august "
    "september october november december yesterday".split())
_MODAL_WORDS = frozenset("could will would may might".split())
# plain substrings of the lower-cased text (C-level `in`: about twice as fast as one regex alternation)
_MODAL_PHRASES = (
    "likely to", "expected to", "set to", "poised to", "stands to", "threaten", "is likely", "are likely",
    "highly likely")
_IMPACT_WORDS = frozenset(
    "reshape shift impact pressure cost costs price prices pricing market markets industry adoption change changes "
    "cheaper jobs consumers customers users developers economy rules policy policies landscape global worldwide "
    "strategies development".split())
_IMPACT_PREFIXES = ("compet", "invest", "regulat", "sanction", "benefit", "threat", "accelerat", "transform",
                    "commodit")
_IMPACT_PHRASES = ("lead to", "leading to")


@dataclass(eq=False, slots=True)  # compared by identity: cheap `in` and remove(); no two candidates are alike
class Candidate:
    """One body sentence of one article, cleaned, with its keys and scores."""

    article_index: int
    article_id: str
    source: str
    position: int
    point: str | None  # fits max_point_words (possibly shortened), None when it cannot
    long: str  # the cleaned sentence up to twice that length (for The Rundown)
    words: frozenset[str]
    numbers: tuple[facts.Quantity, ...]
    entities: frozenset[str]
    quote_share: float
    vocabulary: tuple[str, ...] = ()  # lower-cased words, for keyword tests
    names: tuple[str, ...] = ()  # capitalised words inside the sentence, as written (for the kicker)
    lead: float = 0.0
    central: float = 0.0
    concrete: float = 0.0
    base: float = 0.0

    def similarity(self, other: Candidate) -> float:
        return facts.similarity(self.words, self.numbers, self.entities, other.words, other.numbers, other.entities)


_ARTICLE_INDEX, _ARTICLE_ID, _SCORE = attrgetter("article_index"), attrgetter("article_id"), attrgetter("score")


@dataclass(eq=False)
class Fact:
    """Sentences from one or more outlets stating the same fact; the best-scored one speaks for all."""

    members: list[Candidate]
    score: float = 0.0
    sources: set[str] = field(default_factory=set)

    @property
    def rep(self) -> Candidate:
        return self.members[0]

    @property
    def point(self) -> str | None:
        for m in self.members:  # a plain loop: most facts' first member has a point
            if m.point:
                return m.point
        return None

    @property
    def article_ids(self) -> tuple[str, ...]:
        ordered = sorted(self.members, key=_ARTICLE_INDEX)
        return tuple(dict.fromkeys(map(_ARTICLE_ID, ordered)))

    def similarity(self, cand: Candidate) -> float:
        """How far `cand` states this fact: its highest similarity to the first three members."""
        if len(self.members) == 1:
            return self.members[0].similarity(cand)
        return max(m.similarity(cand) for m in self.members[:3])


def extract_candidates(articles: tuple[Article, ...], max_words: int) -> list[Candidate]:
    """Every body sentence that can stand alone, in article order."""
    out = []
    for k, article in enumerate(articles):
        article_id, source = article.id, article.source
        pos = -1
        for raw in body_sentences(article.text):
            whole = stand_alone(raw, screened=True)
            if whole is None:
                continue
            n = word_count(whole)
            long = fit_length(whole, max_words * 2, n)
            if long is None:
                continue
            fits = n <= max_words if long is whole else word_count(long) <= max_words
            point = long if fits else fit_length(whole, max_words, n)
            pos += 1  # counted over usable sentences, so an ad block or a refused quote does not bury the lead
            vocabulary, words, entities, names, numbers = facts.sentence_keys(long)
            quote_share = sum(map(len, QUOTED.findall(long))) / len(long) if "“" in long or '"' in long else 0.0
            # positional, in field order: twelve keyword arguments cost ~0.5 us a sentence in this loop
            out.append(Candidate(k, article_id, source, pos, point, long, words, numbers, entities,
                                 quote_share, vocabulary, names))
    return out


def score_candidates(cands: list[Candidate], n_articles: int) -> Counter[str]:
    """Set lead, central, concrete and base on each candidate; return how often the story uses each stem."""
    tf = Counter(chain.from_iterable(c.words for c in cands))
    weights = _topic_weights(cands, n_articles, tf)
    for c in cands:
        central = sum(map(weights.get, c.words, repeat(0.0)))
        c.central = central / max(len(c.words), 4) ** CENTRAL_LENGTH_EXPONENT
    top = max((c.central for c in cands), default=0.0) or 1.0
    for c in cands:
        c.central /= top
        significant = sum(1 for q in c.numbers if q.is_significant) if c.numbers else 0
        minor = min(2, len(c.numbers) - significant)  # versions, small counts, days and years
        c.concrete = min(1.0, 0.3 * significant + 0.1 * minor + 0.12 * len(c.entities)
                         + (0.1 if not _DATE_WORDS.isdisjoint(c.vocabulary) else 0))
        c.lead = 1.0 / (1.0 + c.position / LEAD_HALF_LIFE)
        base = W_CENTRAL * c.central + W_CONCRETE * c.concrete + W_LEAD * c.lead
        if c.quote_share > 0.4:
            base *= QUOTE_PENALTY
        if not significant and not _HEDGE_WORDS.isdisjoint(c.vocabulary):
            base *= HEDGE_PENALTY
        if not c.numbers and not c.entities:
            base *= GENERIC_PENALTY
        if c.long.startswith("The ") and _BACK_REFERENCE.match(c.long):
            base *= BACK_REFERENCE_PENALTY
        c.base = base
    return tf


def _topic_weights(cands: list[Candidate], n_articles: int, tf: Counter[str]) -> dict[str, float]:
    """Topic weight of each word used more than once (a word used once weighs 0: a missing word adds 0.0).

    0.7 x share of the other articles using it + 0.3 x its repetition (capped at five uses); with one
    article, its repetition alone. Both terms come from small tables: few distinct values, many words.
    """
    if n_articles < 2:
        return {w: min(1.0, (n - 1) / 4) for w, n in tf.items() if n > 1}
    seen_by_article: dict[int, set[str]] = {}
    for c in cands:
        seen_by_article.setdefault(c.article_index, set()).update(c.words)
    df = Counter(chain.from_iterable(seen_by_article.values()))
    share = [0.7 * ((d - 1) / (n_articles - 1)) for d in range(len(seen_by_article) + 1)]  # by articles using it
    repetition = {n: 0.3 * min(1.0, (n - 1) / 4) for n in (2, 3, 4)}  # 0.3 from five uses on
    return {w: share[df[w]] + repetition.get(n, 0.3) for w, n in tf.items() if n > 1}


def cluster_facts(cands: list[Candidate]) -> list[Fact]:
    """Group candidates stating the same fact (greedy, best first); score each by base and outlet count."""
    articles = len({c.article_index for c in cands})
    low, high = CLUSTERED_RANGE
    ranked = sorted(cands, key=lambda c: (-c.base, c.article_index, c.position))[
        : min(high, max(low, CLUSTERED_PER_ARTICLE * articles))]
    clusters: list[Fact] = []
    fact_of: dict[Candidate, Fact] = {}  # every candidate grouped so far, in the order it was
    for c in ranked:
        homes = _facts_stating(c, fact_of)
        if not homes:
            fact_of[c] = Fact([c], sources={c.source})
            clusters.append(fact_of[c])
            continue
        homes.sort(key=clusters.index)
        home = homes[0]
        for other in homes[1:]:  # c bridges two facts told in different words: they are one
            home.members.extend(other.members)
            home.sources |= other.sources
            clusters.remove(other)
            fact_of.update(dict.fromkeys(other.members, home))
        home.members.append(c)
        home.sources.add(c.source)
        fact_of[c] = home
    for f in clusters:
        f.score = f.rep.base * (1 + SUPPORT_GAIN * math.log2(len(f.sources)))
    clusters.sort(key=_SCORE, reverse=True)  # stable: equal scores keep their order
    return clusters


def _facts_stating(cand: Candidate, fact_of: dict[Candidate, Fact]) -> list[Fact]:
    """The facts holding a sentence that states what `cand` states (one flat scan: most facts have one member)."""
    words, size, ents, has_numbers = cand.words, len(cand.words), cand.entities, bool(cand.numbers)
    found: list[Fact] = []
    for m, fact in fact_of.items():
        if fact in found:
            continue
        # cheap Dice first; the number-and-name test only when both carry numbers and share a name
        total = size + len(m.words)
        if ((total and 2 * len(words & m.words) >= DUPLICATE_AT * total)
                or (has_numbers and m.numbers and not ents.isdisjoint(m.entities)
                    and m.similarity(cand) >= DUPLICATE_AT)):
            found.append(fact)
    return found


def select_mmr(pool: list[Fact], chosen: list[Fact | Candidate], k: int) -> list[Fact]:
    """Pick up to k facts by maximal marginal relevance; a near-copy of a chosen one is folded into it.

    Lazy greedy: a fact's overlap with what is chosen only grows, so its MMR value before the newest
    choices are counted is an upper bound. Facts come in score order, so the scan stops at the first
    one whose best case cannot beat the leader, and most similarities are never worked out. The
    picks are the ones an exhaustive scan makes, ties included (the earlier fact wins).
    """
    top = max((f.score for f in pool), default=0.0) or 1.0
    picked: list[Fact] = []
    remaining = [f for f in pool if f.point]
    against: list[Fact | Candidate] = list(chosen)  # everything a point must not repeat, in order
    overlap = dict.fromkeys(remaining, 0.0)  # the highest similarity to against[:seen[f]] (facts hash by identity)
    seen = dict.fromkeys(remaining, 0)

    def value(f: Fact) -> float:
        return MMR_LAMBDA * f.score / top - (1 - MMR_LAMBDA) * overlap[f]

    def settle(f: Fact) -> None:
        high = overlap[f]
        for other in against[seen[f]:]:
            high = max(high, _similarity(other, f))
        overlap[f], seen[f] = high, len(against)

    while remaining and len(picked) < k:
        best, best_value = None, 0.0
        for f in remaining:
            if best is not None and MMR_LAMBDA * f.score / top <= best_value:
                break  # this and every later fact score no higher: none can win even with no overlap
            if best is not None and value(f) <= best_value:
                continue  # its overlap so far already keeps it below the leader
            settle(f)
            settled = value(f)
            if best is None or settled > best_value:
                best, best_value = f, settled
        assert best is not None
        remaining.remove(best)
        if overlap[best] >= DUPLICATE_AT:
            twin = next((p for p in picked if p.similarity(best.rep) >= DUPLICATE_AT), None)
            if twin is not None:
                twin.members.extend(best.members)
                twin.sources |= best.sources
            continue  # a copy of a point already chosen (or of The Rundown)
        picked.append(best)
        against.append(best)
    return picked


def _similarity(chosen: Fact | Candidate, fact: Fact) -> float:
    return fact.similarity(chosen) if isinstance(chosen, Candidate) else chosen.similarity(fact.rep)


def _impact_key(word: str) -> str:
    """The first six letters of a word naming an effect (markets, prices, competition ...), else ""."""
    return word[:6] if word in _IMPACT_WORDS or word.startswith(_IMPACT_PREFIXES) else ""


_IMPACT_KEYS = facts.WordMemo(_impact_key)


def _impacts(c: Candidate) -> set[str]:
    found = set(map(_IMPACT_KEYS.__getitem__, c.vocabulary))
    found.discard("")
    low = c.long.lower()
    found.update(p for p in _IMPACT_PHRASES if p in low)
    return found


def is_consequence(c: Candidate) -> bool:
    """A sentence about what happens next: a modal or future verb and an effect on someone or something.

    The effect is tested first: half the sentences name none, and its word test is cheaper than the phrase scans.
    """
    low = c.long.lower()
    names_effect = any(map(_IMPACT_KEYS.__getitem__, c.vocabulary)) or any(map(low.__contains__, _IMPACT_PHRASES))
    return names_effect and (not _MODAL_WORDS.isdisjoint(c.vocabulary) or any(map(low.__contains__, _MODAL_PHRASES)))


def consequence_strength(c: Candidate) -> float:
    """0..1: how many distinct effects a sentence names (markets, costs, competition, users, policy ...)."""
    return min(1.0, len(_impacts(c)) / 3)
