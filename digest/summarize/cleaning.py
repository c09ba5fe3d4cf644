"""The boilerplate filter and the stand-alone test for candidate key points.

Ingest strips most page furniture; this is the second line of defence
(subscribe prompts, share links, ads, "Read online", navigation, bylines,
date-only lines, URLs). A sentence that survives is then made to stand alone:
a leading connective ("However,", "But") is cut; a sentence that leans on
what came before ("He said", "This", "Their ..."), holds half a quote, or asks
a question is refused rather than rewritten, so a point is always the
outlet's own words.
"""

from __future__ import annotations

import re

from .facts import has_digit

# Boilerplate, keyed by the word that gives it away: None when the word alone is enough, else a pattern
# that must match too ("read" alone is news; "read more" is furniture). Tested on lower case.
_FURNITURE_WORDS: dict[str, re.Pattern[str] | None] = {
    word: (re.compile(pattern) if pattern else None)
    for words, pattern in [
        ("subscribe unsubscribe newsletter newsletters advertisement copyright getty", None),
        ("sign signing", r"\bsign(?:ing)? up\b"),
        ("share", r"\bshare (?:on|this|via)\b"),
        ("follow", r"\bfollow us\b"),
        ("read", r"\bread (?:online|more)\b"),
        ("browser", r"view (?:it )?in (?:your )?browser"),
        ("click", r"click here"),
        ("sponsored", r"sponsored (?:by|content)|^sponsored\b"),
        ("partnership", r"in partnership with"),
        ("powered", r"powered by"),
        ("terms", r"terms of (?:service|use)"),
        ("privacy", r"privacy policy"),
        ("rights", r"all rights reserved"),
        ("preferences", r"email preferences"),
        ("submitting", r"by submitting"),
        ("enter", r"enter your"),
        ("cookie cookies", r"cookie (?:policy|settings)|use cookies"),
        ("log", r"\blog in to"),
        ("download", r"download (?:the|our) app"),
        ("support", r"support (?:us\b|our (?:work|journalism))|show your support"),
        ("thank", r"thank you for (?:your support|reading)"),
        ("explore", r"explore our topics"),
        ("related", r"related articles?:"),
        ("see", r"see also:"),
        ("photo photograph", r"photo(?:graph)?:|\(ap photo"),
        ("image", r"image:"),
        ("forwarded", r"forwarded this"),
        ("update", r"update your"),
        ("manage", r"manage your"),
        ("sent", r"this (?:email|message) was sent"),
    ]
    for word in words.split()
}
# The same words as bytes: the words of a lower-cased text (its runs of a-z) are found by one bytes.translate
# that blanks every other byte, and a split, at a third of the cost of a regex findall.
_FURNITURE_BYTES = {word.encode(): pattern for word, pattern in _FURNITURE_WORDS.items()}
_FURNITURE_BYTE_SET = frozenset(_FURNITURE_BYTES)
_ONLY_A_TO_Z = bytes(b if 97 <= b <= 122 else 32 for b in range(256))
_URL_MARK = re.compile(r"https?://|\.(?:com|org|net|io)/")  # every one holds a "/"
_EMAIL_ADDRESS = re.compile(r"@[a-z0-9-]+\.[a-z]")


def has_boilerplate(text: str) -> bool:
    """Subscribe prompts, share links, ads, "Read online", credits, URLs and the like, anywhere in `text`."""
    low = text.lower()
    if "©" in low or "www." in low or ("/" in low and _URL_MARK.search(low)):
        return True
    if "@" in low and _EMAIL_ADDRESS.search(low):
        return True
    for word in _FURNITURE_BYTE_SET.intersection(low.encode().translate(_ONLY_A_TO_Z).split()):
        pattern = _FURNITURE_BYTES[word]
        if pattern is None or pattern.search(low):
            return True
    return False


_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_ONLY = re.compile(
    rf"^\W*(?:date|updated|published|posted)?:?\s*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?"
    rf"(?:{_MONTH}\s+[0-9]{{1,2}},?\s+[0-9]{{4}}|[0-9]{{1,2}}\s+{_MONTH}\s+[0-9]{{4}}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})"
    rf"(?:,?\s*(?:at\s*)?[0-9]{{1,2}}:[0-9]{{2}}\s*(?:[ap]\.?m\.?)?\s*(?:[A-Z]{{2,4}})?)?[\W\s]*(?:read online)?\W*$",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(?:by|posted by|written by|words by)\s+[\w.'’ -]{1,40}$", re.IGNORECASE)
# A dateline glued to the first sentence: "date 2025-01-31 The U.S. ...", "January 29, 2025 — Nvidia ...".
_LEADING_DATE = re.compile(
    rf"^\s*(?:date|updated|published)?:?\s*(?:{_MONTH}\s+[0-9]{{1,2}},?\s+[0-9]{{4}}|[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})\s*[—–:-]?\s*",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-•*▪◦·]|[0-9]+[.)])\s+")
_BULLET_STARTS = frozenset("-•*▪◦·")
MIN_POINT_WORDS = 6
_CONNECTIVES = [phrase.strip() for phrase in """
however, meanwhile, moreover, furthermore, additionally, in addition, in fact, indeed, still, yet, also, plus,
besides, remarkably, notably, importantly, certainly, of course, now, instead, overall, ultimately, similarly,
likewise, nevertheless, nonetheless, consequently, as a result, in other words, even so, by contrast,
in contrast, at the same time, separately, crucially, interestingly, surprisingly, specifically, finally,
first, second, third, lastly, again, then, thus, therefore, hence, after all, in short, in sum, to be sure,
for its part, for his part, for her part, for their part, in comparison, by comparison, in response,
on the other hand, that said, with that, above all""".split(",")]
_CONNECTIVE = re.compile(rf"^(?:{'|'.join(_CONNECTIVES)})\s*,\s*", re.IGNORECASE)
_CONNECTIVE_FIRST_WORDS = frozenset(phrase.split()[0] for phrase in _CONNECTIVES)  # the regex runs after one
_CONJUNCTIONS = frozenset("And and But but Yet yet So so Or or Plus plus Also also".split())
_CONJUNCTION = re.compile(r"^(?:(?:[Aa]nd|[Bb]ut|[Yy]et)\s+(?=[a-zA-Z0-9$“\"])|(?:[Ss]o|[Oo]r|[Pp]lus|[Aa]lso)\s+(?=[A-Z0-9$“\"]))")
_PARENTHETICAL_REF = re.compile(r"\s*\((?:see|via|source|photo|image|read)\b[^)]*\)", re.IGNORECASE)
# Subjects that point back at an earlier sentence.
_LEANING_START = frozenset(
    "he she they it this that these those his her their its them we our us i my you your such both another "
    "others which who whose here thereby there's that's it's they're he's she's".split()
)
# ", he said", "” they told": one alternative per mark, so that every alternative opens with a literal character.
_PRONOUN_ATTRIBUTION = re.compile("|".join(
    rf"{mark}(?i:\s*(?:he|she|they|it)\s+(?:said|added|says|told|noted|explained|argued|wrote|continued|warned)\b)"
    for mark in ',”"’'))
# A first- or second-person word standing alone (not "you'd", not "Iowa"): a whole run of letters and apostrophes.
# Each word's first letter comes first, its lookbehind after, so the regex engine can skip ahead to those letters.
_FIRST_PERSON = re.compile("|".join(
    rf"{w[0]}(?<![A-Za-z']{w[0]}){w[1:]}(?![A-Za-z'])"
    for w in "I I'm we We we're We're us our Our my My you You your Your".split()))
# Both in one scan, for a sentence with no quotation in it (the first-person test skips quotations). Every
# alternative opens with a literal character, so the engine still skips ahead to those characters.
_ATTRIBUTION_OR_FIRST_PERSON = re.compile(f"{_PRONOUN_ATTRIBUTION.pattern}|{_FIRST_PERSON.pattern}")
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
_NAMED_SPEAKER = re.compile(r"[”\"]\s*,?\s*[A-Z][\w.]+")
_CLOSERS = "\"”’')]"
# Throat-clearing that delays the news: "In a development that has caught the attention of the AI industry, ..."
_THROAT_CLEARING = re.compile(
    r"^In an? (?:development|move|sign|twist|blow|boost|surprise|turn of events|surprising move)\b[^,“\"]{0,90},\s+(?=\S)")
_LEAD_IN = re.compile(r"^[^:“\"]{3,60}:\s+(?=[A-Z“\"])")
_CLAUSE_CUT = re.compile(r"\s+[—–]\s+|;\s+|,\s+(?:which|while|whereas|as|although|though|but)\s+")


def unbullet(text: str) -> str:
    """`text` stripped of spaces and of a leading bullet or list number (the regex only runs when one may be)."""
    text = text.strip()
    if text[:1] in _BULLET_STARTS or "0" <= text[:1] <= "9":
        return _BULLET.sub("", text).strip()
    return text


def is_boilerplate_line(line: str) -> bool:
    """A whole line that is page furniture: a date, a byline, a share or subscribe prompt, a URL."""
    return is_furniture(unbullet(line))


def is_furniture(bare: str) -> bool:
    """is_boilerplate_line for a line already stripped of its bullet (body_sentences strips it once for both tests)."""
    if has_digit(bare) and _DATE_ONLY.match(bare):
        return True
    return bool((bare[:1] in "BbPpWw" and _BYLINE.match(bare)) or has_boilerplate(bare))


def is_heading(bare: str) -> bool:
    """A section heading, a title or a dek: short and unpunctuated, or in Title Case.

    `bare`: the line stripped of its bullet (`unbullet`).
    """
    if bare.endswith(":"):
        return True
    tokens = bare.split(None, 31)  # the first 31 words and the rest: enough to tell a dek from a paragraph
    if not ends_sentence(bare):
        return len(tokens) < 25
    if len(tokens) > 30:
        return False  # a paragraph, not a dek
    long_words = [t for t in tokens if len(t) > 3]
    capitalised = [t for t in long_words if t[0].isupper()]
    return len(long_words) >= 4 and len(capitalised) >= 0.7 * len(long_words)


def ends_sentence(text: str) -> bool:
    """Ends in . ! ? or … (before any closing quote or bracket)."""
    return text.rstrip(_CLOSERS)[-1:] in (".", "!", "?", "…")


def strip_dateline(text: str) -> str:
    """Without a leading date ("January 29, 2025 — ", "date 2025-01-31 "); a date needs a digit."""
    return _LEADING_DATE.sub("", text, count=1) if has_digit(text) else text


def word_count(text: str) -> int:
    return len(text.split())


def _balanced_quotes(text: str) -> bool:
    if text.count("“") != text.count("”"):
        return False
    return text.count('"') % 2 == 0


def _shorten(text: str, max_words: int) -> str | None:
    """Cut a long sentence at its first clause break when the head is a sentence of its own."""
    for m in _CLAUSE_CUT.finditer(text):
        head = text[: m.start()].rstrip(",;: ")
        if word_count(head) > max_words:
            break
        tail = text[m.end():]
        # ", which powers the app, was trained ..." and "— which erased $1tn —" are asides inside the
        # sentence: cutting there would leave a subject without its verb. Only a trailing clause is cut.
        is_aside = m.group().strip() != ";" and ("," in tail or "—" in tail or "–" in tail)
        if not is_aside and word_count(head) >= 8 and _balanced_quotes(head) and "(" not in head[-20:]:
            return head + "."
    return None


def clean_sentence(sentence: str, max_words: int, *, screened: bool = False) -> str | None:
    """The sentence made to stand alone as a key point of at most `max_words` words, or None when it cannot be.

    `screened`: the caller already checked it for boilerplate (body_sentences does).
    """
    s = stand_alone(sentence, screened=screened)
    return None if s is None else fit_length(s, max_words)


def stand_alone(sentence: str, *, screened: bool = False) -> str | None:
    """The sentence without its leading connective, or None when it leans on others; any length.

    Each anchored regex runs only when a cheap test on the first characters says it could match:
    this runs on every sentence of every article.
    """
    s = unbullet(sentence)
    digits = has_digit(s)
    if digits:
        s = unbullet(strip_dateline(s))
    if "(" in s:
        s = _PARENTHETICAL_REF.sub("", s)
    if not s or (not screened and has_boilerplate(s)) or (digits and _DATE_ONLY.match(s)):
        return None
    if s.startswith(("In a ", "In an ")):
        s = _THROAT_CLEARING.sub("", s)
    if s.find(":", 3, 62) != -1:
        lead_in = _LEAD_IN.match(s)
        if lead_in and word_count(lead_in.group()) >= 3 and word_count(s[lead_in.end():]) >= 8:
            s = s[lead_in.end():]  # "What followed was anything but understated: Nvidia's stock dropped 17%"
    s = _strip_connectives(s)
    if not s or not (s[0].isupper() or s[0].isdigit() or s[0] in "$“\"€£"):
        return None  # starts mid-sentence: a split error or a fragment
    if s.rstrip(_CLOSERS)[-1:] not in (".", "!", "…"):
        return None  # a fragment, a question or a lead-in to a list
    first = s.split(None, 1)[0].lower().strip("“\"‘'(,")
    if first in _LEANING_START:
        return None
    if "“" not in s and '"' not in s:  # no quotation (most sentences): balanced unless a stray closing mark
        return None if "”" in s or _ATTRIBUTION_OR_FIRST_PERSON.search(s) else s
    if not _balanced_quotes(s):
        return None
    if _PRONOUN_ATTRIBUTION.search(s):
        return None
    if s[0] in "“\"" and not _NAMED_SPEAKER.search(s):
        return None  # a quote with no named speaker after it
    if _FIRST_PERSON.search(QUOTED.sub("", s)):
        return None
    return s


def fit_length(s: str, max_words: int, n: int | None = None) -> str | None:
    """A stand-alone sentence cut to `max_words` at a trailing clause, or None when too short or too long.

    `n`: its word count, when the caller has it already.
    """
    n = word_count(s) if n is None else n
    if n < MIN_POINT_WORDS:
        return None
    if n > max_words:
        return _shorten(s, max_words)
    return s


def _strip_connectives(s: str) -> str:
    """"However, the company ..." -> "The company ...", "But Nvidia ..." -> "Nvidia ..." (twice at most)."""
    for _ in range(2):
        word = s.split(None, 1)[0].partition(",")[0] if s else ""
        if word.lower() not in _CONNECTIVE_FIRST_WORDS and word not in _CONJUNCTIONS:
            break
        s2 = _CONJUNCTION.sub("", _CONNECTIVE.sub("", s))
        if s2 == s:
            break
        s = s2[:1].upper() + s2[1:]
    return s
