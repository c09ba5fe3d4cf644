"""Text features dedup compares: normalized text, shingles, terms, facts, canonical URLs.

Pure functions of one article's strings. Hashes are stable across processes
(crc32 / blake2b, never Python's salted `hash`), so results never depend on
the interpreter run.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from ..urls import is_tracking_param

SHINGLE_WORDS = 5  # words per shingle: long enough that unrelated texts share almost none

# Beyond the tracking parameters (digest.urls), these referral tags are ignored when comparing
# URLs for equality; ingest keeps them in article ids, since a few sites do use them.
_REFERRAL_PARAMS = re.compile(r"^(ref|ref_url|share|smid|src|taid|at_\w+)$", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’.][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(
    r"(?<![\w.])(?:[$€£]|usd|eur)?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s?"
    r"(%|percent\b|per cent\b|trillion\b|tn\b|billion\b|bn\b|b\b|million\b|mn\b|m\b|k\b)?",
    re.IGNORECASE,
)
_UNIT = {"%": "%", "percent": "%", "per cent": "%", "trillion": "t", "tn": "t", "billion": "b", "bn": "b",
         "b": "b", "million": "m", "mn": "m", "m": "m", "k": "k"}
_NAME = re.compile(r"(?<![\w'’])(?:[A-Z][\w&’'-]*|[a-z]+\d[\w-]*)")
_OPENER = re.compile(r"(?:[.!?:]\s+|\n\s*)[\"“‘(-]*([A-Z][\w&’'-]*)")  # a capitalized word opening a sentence
_HAS_DIGIT = re.compile(r"\d")

STOPWORDS = frozenset("""
a about above after again against ago all almost also although always am among an and another any anyone
are aren't around as at back be became because become been before being below between both but by can
cannot could couldn't did didn't do does doesn't doing don't down during each either else even ever every
few for from further get gets got had hadn't has hasn't have haven't having he her here hers herself him
himself his how however i if in into is isn't it its it's itself just last least less like made make many
may me might more most much must my myself near need neither never new no nor not now of off often on once
one only or other others our ours ourselves out over own per perhaps put rather really same says said say
see seen several shall she should shouldn't since so some still such than that that's the their theirs them
themselves then there there's these they this those though through thus to too toward towards under until
up upon us use used using very via was wasn't way we well were weren't what when where whether which while
who whom whose why will with within without won't would wouldn't yet you your yours yourself also told
according added including among week weeks today yesterday tomorrow monday tuesday wednesday thursday
friday saturday sunday year years month months day days time first two three four five six seven eight
nine ten percent million billion trillion company companies people number part says report reported
reports news read more click subscribe newsletter share sign email
""".split())


def normalize_text(text: str) -> str:
    """Lowercase words only: whitespace, case, punctuation and links (tracking junk) do not count."""
    if "://" in text or "www." in text.lower():
        text = _URL_IN_TEXT.sub(" ", text)
    return " ".join(_WORD.findall(text)).lower()


def text_hash(normalized: str) -> str:
    """A stable key for 'the same text', given the output of `normalize_text`."""
    return hashlib.blake2b(normalized.encode(), digest_size=16).hexdigest()


def canonical_url(url: str) -> str:
    """The URL without scheme, www., fragment, trailing slash or tracking parameters, for equality."""
    if not url or url.startswith("file:"):
        return url
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a junk port
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not (is_tracking_param(k) or _REFERRAL_PARAMS.match(k))))
    path = re.sub(r"/+$", "", parts.path) or "/"
    return urlunsplit(("", host, path, query, ""))


def shingles(normalized: str, size: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique 32-bit hashes of the overlapping `size`-word windows of a normalized text."""
    words = normalized.split()
    if not words:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
    if len(words) <= size:
        return np.asarray([int(hashes.sum()) & 0xFFFFFFFF], dtype=np.uint64)
    windows = len(words) - size + 1
    mixed = np.zeros(windows, dtype=np.uint64)
    for k in range(size):  # a polynomial rolling hash, wrapping at 2**64
        mixed = mixed * np.uint64(1_000_003) + hashes[k:k + windows]
    out = np.sort((mixed ^ (mixed >> np.uint64(32))) & np.uint64(0xFFFFFFFF))
    return out[np.concatenate(([True], out[1:] != out[:-1]))]  # sort + dedupe: cheaper than np.unique here


def content_terms(text: str, limit: int | None = None) -> list[str]:
    """Lowercased, lightly stemmed words that carry meaning (no stopwords, no bare numbers)."""
    words = _WORD.findall(text)
    if limit is not None:
        words = words[:limit]
    terms = map(_term, words)
    return [t for t in terms if t]


def normalized_terms(normalized: str, limit: int) -> list[str]:
    """`content_terms` of a text already through `normalize_text` (cheaper: no second tokenizing)."""
    terms = map(_term, normalized.split()[:limit])
    return [t for t in terms if t]


@lru_cache(maxsize=200_000)
def _term(word: str) -> str:
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) < 3 or w in STOPWORDS or w.isdigit():
        return ""
    return _stem(w)


def _stem(word: str) -> str:
    """A deliberately small stemmer: plurals and a few verb endings, enough to match rewrites."""
    if len(word) > 5 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 6 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]
    return word


def facts(text: str) -> set[str]:
    """Names and figures in a text: the things a rewrite of the same event must repeat.

    Names are capitalized words seen mid-sentence at least once (so "Despite"
    at a sentence start does not count) and model-like tokens ("H800", "o3");
    figures are numbers normalized with their unit ("$5.6 million" -> "5.6m").
    """
    text = ". " + text  # the text opens a sentence too
    openers = Counter(_OPENER.findall(text))
    found: set[str] = set()
    for token, n in Counter(_NAME.findall(text)).items():
        if n <= openers.get(token, 0) and not _HAS_DIGIT.search(token):
            continue  # only ever seen opening a sentence: "Despite", "Meanwhile"
        low = token.replace("’", "'").removesuffix("'s").strip("'-").lower()
        if len(low) >= 2 and low not in STOPWORDS:
            found.add(low)
    for value, unit in _NUMBER.findall(text):
        value = value.replace(",", "")
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        unit = _UNIT.get(unit.lower(), "")
        if unit or len(value) > 1:  # a lone digit ("3 things") is no fact
            found.add(f"#{value}{unit}")
    return found
