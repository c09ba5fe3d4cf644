"""What a sentence says, reduced to comparable keys: content words, numbers, named entities.

Two outlets rarely word a fact alike ("$5.6 million" and "$6M", "17%" and
"nearly 17 percent"), so redundancy is judged on these keys, not on raw text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, NamedTuple

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own same she should so some such than
that the their theirs them themselves then there these they this those through to too under until up very
was we were what when where which while who whom why will with would you your yours yourself yourselves
said says say according told new one two three also even still yet however many much may might must
would could like just well since whether within without across around among amid via per s t
""".split())

# Capitalised words that are not the companies or people a story is about.
NOT_ENTITIES = frozenset("""
the a an and but or so yet in on at for of to by with as from if while when after before this that these those
it its he she they we i you his her their our my your there here however meanwhile despite although though
ai u.s. us u.k. uk eu china chinese american america americans europe european japan india washington beijing
silicon valley monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december jan feb mar apr jun jul aug sep sept oct nov dec
ceo cto cfo president premier senator minister analyst analysts company companies startup inc ltd corp
according read share subscribe plus also what how why who where one two three new last next first
western eastern global world app store gpu gpus llm llms
""".split())

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*+(?:[.'’&-][A-Za-z0-9]++)*+\.?")  # possessive: no backtracking
_POSSESSIVE = re.compile(r"['’]s$")

_SCALE = {
    "k": 1e3, "thousand": 1e3,
    "m": 1e6, "mn": 1e6, "mln": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9,
    "t": 1e12, "tn": 1e12, "trillion": 1e12,
}
# A number not glued to letters (so "H800", "A100", "36Kr" and "GPT-4o" are names, not figures). It opens
# with a currency, a space, a digit or a point: the first look-ahead spares most positions the whole pattern.
_NUMBER = re.compile(
    r"(?=[0-9.\s$€£¥UEG])(?<![A-Za-z0-9.])(?P<cur>US\$|\$|€|£|¥|USD|EUR|GBP)?\s?"
    r"(?P<num>[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?|\.[0-9]+)"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion|mn|mln|bn|tn|[kmbt])\b)?"
    r"\s?(?P<pct>%|percent\b|per cent\b)?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"[0-9]")
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_MONTH_BEFORE = re.compile(rf"{_MONTH_NAME}\s+$", re.IGNORECASE)
_MONTH_AFTER = re.compile(rf"\s+{_MONTH_NAME}\b", re.IGNORECASE)
# Relative tolerance for "the same number" across outlets: $5.6 million vs $6M, $593bn vs $600bn.
NUMBER_TOLERANCE = 0.12
WEAK_NUMBER_DICE = 0.3


class Quantity(NamedTuple):
    kind: str  # "money", "percent", "year", "day" (of a month) or "count"
    value: float

    def matches(self, other: Quantity) -> bool:
        if self.kind != other.kind:
            return False
        high = max(abs(self.value), abs(other.value))
        return high == 0 or abs(self.value - other.value) / high <= NUMBER_TOLERANCE

    @property
    def is_distinctive(self) -> bool:
        """Rare enough that two outlets citing it about one company are citing one fact ($5.6M, 17%, 2,000)."""
        return self.kind == "money" or (self.kind == "percent" and self.value >= 10) or (
            self.kind == "count" and self.value >= 100)

    @property
    def is_significant(self) -> bool:
        """Money, percentages and counts of ten or more identify a fact; "2" or a year alone do not."""
        return self.kind in ("money", "percent") or (self.kind == "count" and self.value >= 10)


def has_digit(text: str) -> bool:
    """Holds an ASCII digit, the only digits the number and date patterns read.

    Ten C-level substring scans beat a regex search, and most sentences hold no digit.
    """
    return ("0" in text or "1" in text or "2" in text or "3" in text or "4" in text or "5" in text
            or "6" in text or "7" in text or "8" in text or "9" in text)


def quantities(text: str) -> tuple[Quantity, ...]:
    """Every number in `text`, normalised: "$5.6 million" -> money 5.6e6, "nearly 17 percent" -> percent 17."""
    if not has_digit(text):
        return ()
    first_digit = _DIGIT.search(text)
    found = []
    # a number starts at most 5 characters before its first digit ("US$ .5"): no need to scan the text before
    for m in _NUMBER.finditer(text, max(0, first_digit.start() - 5)):
        cur, num, scale, pct = m.groups()
        raw = num.replace(",", "")
        try:
            value = float(raw)
        except ValueError:
            continue
        if scale:
            value *= _SCALE[scale.lower()]
        if pct:
            found.append(Quantity("percent", value))
        elif cur:
            found.append(Quantity("money", value))
        elif not scale and "." not in raw and 1900 <= value <= 2100 and len(num) == 4:
            found.append(Quantity("year", value))
        elif not scale and value <= 31 and (_MONTH_BEFORE.search(text, max(0, m.start() - 12), m.start())
                                            or _MONTH_AFTER.match(text, m.end())):
            found.append(Quantity("day", value))
        else:
            found.append(Quantity("count", value))
    return tuple(found)


MEMO_WORDS = 50_000  # words a WordMemo holds before it is emptied and starts again


class WordMemo(dict):
    """word -> func(word), each worked out once: news vocabulary is small and repeats across stories.

    Emptied when it holds MEMO_WORDS words, so a long-running scheduler's memory stays bounded. Look words up
    as ``memo[word]``, or ``map(memo.__getitem__, words)`` to stay in C for the words already known.
    """

    def __init__(self, func: Callable[[str], Any]) -> None:
        super().__init__()
        self.func = func

    def __missing__(self, word: str) -> Any:
        if len(self) >= MEMO_WORDS:
            self.clear()
        value = self[word] = self.func(word)
        return value


def stem(word: str) -> str:
    """A crude, fast stem: lower case, no possessive, no plural or common verb ending."""
    return _STEMS[word]


def _stem(word: str) -> str:
    w = _POSSESSIVE.sub("", word.lower()).rstrip(".")
    if len(w) > 5 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 5 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ed"):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        return w[:-1]
    return w


_STEMS = WordMemo(_stem)


def shared_quantity(a: tuple[Quantity, ...], b: tuple[Quantity, ...]) -> Quantity | None:
    """The first significant number of `a` that `b` states too (plain loops: a generator costs more here)."""
    for x in a:
        if x.is_significant:
            for y in b:
                if x.matches(y):
                    return x
    return None


def similarity(words_a: frozenset[str], nums_a: tuple[Quantity, ...], ents_a: frozenset[str],
               words_b: frozenset[str], nums_b: tuple[Quantity, ...], ents_b: frozenset[str]) -> float:
    """0..1: how far two sentences state the same fact.

    Dice overlap of content stems, raised to at least 0.6 when both carry the
    same number (within NUMBER_TOLERANCE) about a shared named entity: that is
    one fact told in two wordings. A distinctive number (money, 10 % or more,
    100 or more) is enough; a common one needs a Dice overlap of 0.3 too.
    """
    total = len(words_a) + len(words_b)
    dice = 2 * len(words_a & words_b) / total if total else 0.0
    if nums_a and nums_b and not ents_a.isdisjoint(ents_b):
        shared = shared_quantity(nums_a, nums_b)
        # a common figure ("3%", "12") needs some shared wording too before it marks one fact
        if shared is not None and (shared.is_distinctive or dice >= WEAK_NUMBER_DICE):
            return max(dice, 0.6 + 0.4 * dice)
    return dice


class Keys(NamedTuple):
    """Everything the scorer compares about one sentence."""

    vocabulary: tuple[str, ...]  # lower-cased words, in order
    stems: frozenset[str]  # content stems (no stop words)
    entities: frozenset[str]  # lower-cased names, sentence-initial ones included
    names: tuple[str, ...]  # names after the first word, as written, without digits
    numbers: tuple[Quantity, ...]


def _content_stem(word: str) -> str:
    """The stem of a lower-cased word, or "" for a stop word, a letter, or a word whose stem is a stop word."""
    if len(word) < 2 or word in STOPWORDS:
        return ""
    found = stem(word)
    return "" if found in STOPWORDS else found  # "it's" -> "it"


def _lower_word(token: str) -> str:
    """A token of _WORD as a vocabulary word: lower case, no trailing period ("U.S." -> "u.s")."""
    return token.lower().rstrip(".")


def _name_keys(token: str) -> tuple[str, str | None] | None:
    """A capitalised token as (entity, name); None for a lower-case word, a stop word or a generic capital.

    entity: lower-cased, bare ("DeepSeek's" -> "deepseek");
    name: as written, for the kicker, or None when it is short, an acronym or carries digits.
    """
    if not token[0].isupper():
        return None
    low = token.lower()
    bare = (low[:-2] if low[-2:] in ("'s", "’s") else low).rstrip(".")
    if len(bare) < 2 or bare in STOPWORDS or bare in NOT_ENTITIES:
        return None
    if len(bare) > 2 and not token.isupper() and not _DIGIT.search(token):
        return bare, _POSSESSIVE.sub("", token).rstrip(".")
    return bare, None


_CONTENT_STEMS = WordMemo(_content_stem)
_LOWER_WORDS = WordMemo(_lower_word)
_NAME_KEYS = WordMemo(_name_keys)
_ENTITY, _NAME = itemgetter(0), itemgetter(1)


def sentence_keys(text: str) -> Keys:
    """What one sentence says, as the keys the scorer compares (see `Keys`)."""
    # map/filter over memo lookups: the per-word work stays in C for every word already seen, and the
    # words stay a tuple (a set of them would cost more to build than the few keyword tests it speeds)
    tokens = _WORD.findall(text)
    vocabulary = tuple(map(_LOWER_WORDS.__getitem__, tokens))
    named = list(filter(None, map(_NAME_KEYS.__getitem__, tokens)))
    # a sentence's first word is an entity but not a name ("Shares of ...", "Analysts said ...")
    after_first = named[1:] if named and _NAME_KEYS[tokens[0]] is not None else named
    return Keys(vocabulary, frozenset(filter(None, map(_CONTENT_STEMS.__getitem__, vocabulary))),
                frozenset(map(_ENTITY, named)), tuple(filter(None, map(_NAME, after_first))), quantities(text))


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_stems(tokens: list[str]) -> frozenset[str]:
    """The content stems of some tokens of `words` (stop words left out), as `sentence_keys` makes them."""
    return frozenset(filter(None, map(_CONTENT_STEMS.__getitem__, map(_LOWER_WORDS.__getitem__, tokens))))


def entities(tokens: list[str]) -> frozenset[str]:
    """Capitalised names, lower-cased: DeepSeek, Nvidia, Liang (stop words and generic capitals left out)."""
    return frozenset(map(_ENTITY, filter(None, map(_NAME_KEYS.__getitem__, tokens))))
