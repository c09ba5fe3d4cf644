"""Candidate sentences -> scored facts -> a ranked, non-redundant selection.

The scoring is stated in full in `digest.summarize`'s docstring; the weights
are the named constants below.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from ..models import Article
from . import facts
from .cleaning import clean_sentence, word_count
from .sentences import body_sentences

W_CENTRAL = 0.40  # shares the story's vocabulary (words several outlets use)
W_CONCRETE = 0.30  # numbers, money, dates, named companies and people
W_LEAD = 0.30  # early in its article
LEAD_HALF_LIFE = 3  # sentence position at which the lead weight halves
SUPPORT_GAIN = 0.6  # score x (1 + SUPPORT_GAIN * log2(independent outlets))
QUOTE_PENALTY = 0.7  # mostly a quotation: commentary more than fact
HEDGE_PENALTY = 0.85  # "may", "might", "could" with no figure to back it
GENERIC_PENALTY = 0.8  # neither a number nor a name
BACK_REFERENCE_PENALTY = 0.8  # "The impact was ...", "The company said ...": reads better after its antecedent
DUPLICATE_AT = 0.5  # facts.similarity at or above which two sentences are one fact
MMR_LAMBDA = 0.7  # importance vs. novelty against points already chosen
MAX_CLUSTERED = 80  # only the best candidates are clustered: keeps a story O(80^2)

_HEDGE = re.compile(r"\b(?:may|might|could|perhaps|possibly|likely|suggests?|appears?|seems?)\b", re.I)
_BACK_REFERENCE = re.compile(
    r"^The (?:impact|move|deal|news|decision|company|firm|startup|app|result|effect|development|announcement"
    r"|report|change|reason|outcome|same|latter|former|problem|issue)\b")
_DATE_WORD = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|june|july"
    r"|august|september|october|november|december|yesterday|last week|this week)\b", re.I)
_MODAL = re.compile(r"\b(?:could|will|would|may|might|likely to|expected to|set to|poised to|stands to|threatens? to|is likely|are likely|highly likely)\b", re.I)
_IMPACT = re.compile(
    r"\b(?:reshape|shift|impact|pressure|competition|compet\w*|cost|price|pricing|market"
    r"|industry|adoption|investment|invest\w*|regulat\w*|sanction\w*|benefit\w*|threat\w*|accelerat\w*|change"
    r"|lead to|leading to|cheaper|jobs|consumers|customers|users|developers|economy|rules|policy|policies"
    r"|transform\w*|landscape|global|worldwide|commodit\w*|strategies|development)",
    re.I)


@dataclass
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
    lead: float = 0.0
    central: float = 0.0
    concrete: float = 0.0
    base: float = 0.0

    def similarity(self, other: Candidate) -> float:
        return facts.similarity(self.words, self.numbers, self.entities, other.words, other.numbers, other.entities)


@dataclass
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
        return next((m.point for m in self.members if m.point), None)

    @property
    def article_ids(self) -> tuple[str, ...]:
        ordered = sorted(self.members, key=lambda m: m.article_index)
        return tuple(dict.fromkeys(m.article_id for m in ordered))

    def matches(self, cand: Candidate) -> bool:
        return any(m.similarity(cand) >= DUPLICATE_AT for m in self.members)

    def similarity(self, other: Candidate | Fact) -> float:
        cand = other.rep if isinstance(other, Fact) else other
        return max(m.similarity(cand) for m in self.members[:3])


def extract_candidates(articles: tuple[Article, ...], max_words: int) -> list[Candidate]:
    """Every body sentence that can stand alone, in article order."""
    out = []
    for k, article in enumerate(articles):
        pos = -1
        for raw in body_sentences(article.text):
            long = clean_sentence(raw, max_words * 2)
            if long is None:
                continue
            pos += 1  # counted over usable sentences, so an ad block or a refused quote does not bury the lead
            point = long if word_count(long) <= max_words else clean_sentence(raw, max_words)
            tokens = facts.words(long)
            quoted = sum(len(q) for q in re.findall(r"“[^”]*”|\"[^\"]*\"", long))
            out.append(Candidate(
                article_index=k, article_id=article.id, source=article.source, position=pos,
                point=point, long=long, words=facts.content_stems(tokens), numbers=facts.quantities(long),
                entities=facts.entities(tokens), quote_share=quoted / max(1, len(long)),
            ))
    return out


def score_candidates(cands: list[Candidate], n_articles: int) -> None:
    """Set lead, central, concrete and base on each candidate."""
    df: Counter[str] = Counter()
    tf: Counter[str] = Counter()
    seen_by_article: dict[int, set[str]] = {}
    for c in cands:
        tf.update(c.words)
        seen_by_article.setdefault(c.article_index, set()).update(c.words)
    for words in seen_by_article.values():
        df.update(words)
    multi = n_articles > 1

    def topic_weight(w: str) -> float:
        spread = (df[w] - 1) / (n_articles - 1) if multi else 0.0
        repeat = min(1.0, (tf[w] - 1) / 4)
        return 0.7 * spread + 0.3 * repeat if multi else repeat

    weights = {w: topic_weight(w) for w in tf}
    for c in cands:
        c.central = sum(weights[w] for w in c.words) / math.sqrt(max(len(c.words), 4))
    top = max((c.central for c in cands), default=0.0) or 1.0
    for c in cands:
        c.central /= top
        significant = sum(1 for q in c.numbers if q.is_significant)
        c.concrete = min(1.0, 0.3 * significant + 0.12 * len(c.entities) + (0.1 if _DATE_WORD.search(c.long) else 0))
        c.lead = 1.0 / (1.0 + c.position / LEAD_HALF_LIFE)
        base = W_CENTRAL * c.central + W_CONCRETE * c.concrete + W_LEAD * c.lead
        if c.quote_share > 0.4:
            base *= QUOTE_PENALTY
        if not significant and _HEDGE.search(c.long):
            base *= HEDGE_PENALTY
        if not c.numbers and not c.entities:
            base *= GENERIC_PENALTY
        if _BACK_REFERENCE.match(c.long):
            base *= BACK_REFERENCE_PENALTY
        c.base = base


def cluster_facts(cands: list[Candidate]) -> list[Fact]:
    """Group candidates stating the same fact (greedy, best first); score each by base and outlet count."""
    ranked = sorted(cands, key=lambda c: (-c.base, c.article_index, c.position))[:MAX_CLUSTERED]
    clusters: list[Fact] = []
    for c in ranked:
        homes = [f for f in clusters if f.matches(c)]
        if not homes:
            clusters.append(Fact([c], sources={c.source}))
            continue
        home = homes[0]
        for other in homes[1:]:  # c bridges two facts told in different words: they are one
            home.members.extend(other.members)
            home.sources |= other.sources
            clusters.remove(other)
        home.members.append(c)
        home.sources.add(c.source)
    for f in clusters:
        f.score = f.rep.base * (1 + SUPPORT_GAIN * math.log2(len(f.sources)))
    clusters.sort(key=lambda f: -f.score)
    return clusters


def select_mmr(pool: list[Fact], chosen: list[Fact | Candidate], k: int) -> list[Fact]:
    """Pick up to k facts by maximal marginal relevance; a near-copy of a chosen one is folded into it."""
    top = max((f.score for f in pool), default=0.0) or 1.0
    picked: list[Fact] = []
    remaining = [f for f in pool if f.point]
    while remaining and len(picked) < k:
        best, best_value = None, -math.inf
        for f in remaining:
            overlap = max((f.similarity(c) if isinstance(c, Candidate) else c.similarity(f.rep)
                           for c in [*chosen, *picked]), default=0.0)
            value = MMR_LAMBDA * f.score / top - (1 - MMR_LAMBDA) * overlap
            if value > best_value:
                best, best_value = f, value
        remaining.remove(best)
        twin = next((p for p in picked if p.similarity(best.rep) >= DUPLICATE_AT), None)
        if twin is not None:
            twin.members.extend(best.members)
            twin.sources |= best.sources
            continue
        if any(isinstance(c, Candidate) and c.similarity(best.rep) >= DUPLICATE_AT for c in chosen):
            continue
        picked.append(best)
    return picked


def is_consequence(text: str) -> bool:
    """A sentence about what happens next: a modal or future verb and an effect on someone or something."""
    return bool(_MODAL.search(text) and _IMPACT.search(text))


def consequence_strength(text: str) -> float:
    """0..1: how many distinct effects a sentence names (markets, costs, competition, users, policy ...)."""
    return min(1.0, len({m.group(0).lower()[:6] for m in _IMPACT.finditer(text)}) / 3)
