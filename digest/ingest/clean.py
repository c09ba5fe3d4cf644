"""Boilerplate stripping and header reading for article text.

Saved newsletters and web pages carry a lot around the article: share links,
"Read Online", sponsor blocks, subscribe forms, navigation, footers with a
postal address, bylines and date lines. `read_text_article` finds the title,
date and author in the first lines of a plain-text article and returns only
the article's own paragraphs; `clean_paragraphs` applies the same boilerplate
rules to paragraphs that came out of HTML. The rules are patterns for kinds of
line (a share prompt, a copyright line, an address), never lists of lines
from particular files, and they only ever remove short lines or a marked
sponsor block, so prose survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

HEADER_SCAN_LINES = 12  # non-blank lines at the top searched for the title, date and byline
MAX_HEADING_WORDS = 12  # a shorter line without end punctuation is a heading (or a label), not prose
MAX_AD_BLOCK_LINES = 15  # a sponsor block ends at its call to action within this many lines
TITLE_MAX_WORDS = 30
DERIVED_TITLE_WORDS = 16
GENERIC_AUTHORS = frozenset({"admin", "administrator", "staff", "editor", "editors", "webmaster", "guest", "user", "team"})

_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_END_PUNCT = tuple('.!?"”’\')…')
_WORD = re.compile(r"\S+")

# --- dates -------------------------------------------------------------------------------------------------------

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11,
    "dec": 12,
}
_MONTH = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?,?\s+)?"
_TIME = (r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
         r"\s*(?P<tz>utc|gmt|z|[ecmp][sd]?t|bst|cest|cet|[+-]\d{2}:?\d{2})?)?")
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DATE_FORMS = [
    re.compile(rf"^{_WEEKDAY}{_MONTH}\s+{_DAY},?\s+{_YEAR}{_TIME}$", re.I),
    re.compile(rf"^{_WEEKDAY}{_DAY}\s+{_MONTH},?\s+{_YEAR}{_TIME}$", re.I),
    re.compile(rf"^{_YEAR}-(?P<mnum>\d{{1,2}})-(?P<day>\d{{1,2}})(?:[t ](?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})"
               r"(?::(?P<second>\d{2})(?:\.\d+)?)?\s*(?P<tz>z|utc|[+-]\d{2}:?\d{2})?)?$", re.I),
]
_DATE_LABEL = re.compile(r"^(?:date|dated|published|posted|updated|last updated|first published)(?:\s+on)?\s*:?\s*", re.I)
_TZ_HOURS = {"utc": 0, "gmt": 0, "z": 0, "et": -5, "est": -5, "edt": -4, "ct": -6, "cst": -6, "cdt": -5, "mt": -7,
             "mst": -7, "mdt": -6, "pt": -8, "pst": -8, "pdt": -7, "bst": 1, "cet": 1, "cest": 2}
_LEADING_DATE = re.compile(
    r"^(?:date|dated|published|posted|updated)\s*:?\s+(?P<date>\d{4}-\d{1,2}-\d{1,2}|"
    r"[a-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}\s+[a-z]{3,9}\.?,?\s+\d{4})\s+(?P<rest>\S.*)$",
    re.I,
)
_READING_TIME = re.compile(r"^\d+\s*(?:min(?:ute)?s?|m)\.?\s*(?:read|listen)$", re.I)


def parse_date(text: str) -> datetime | None:
    """A date written as a whole phrase ("January 29, 2025", "Jan 29, 2025, 11:14 AM", "2025-01-31") -> aware UTC."""
    text = _DATE_LABEL.sub("", _SPACES.sub(" ", text).strip()).rstrip(".").strip()
    for form in _DATE_FORMS:
        m = form.match(text)
        if m:
            return _build_date(m)
    return None


def _build_date(m: re.Match[str]) -> datetime | None:
    groups = m.groupdict()
    month = int(groups["mnum"]) if groups.get("mnum") else _MONTHS[groups["month"][:3].lower()]
    hour, minute, second = (int(groups.get(k) or 0) for k in ("hour", "minute", "second"))
    ampm = (groups.get("ampm") or "").replace(".", "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    try:
        value = datetime(int(groups["year"]), month, int(groups["day"]), hour, minute, second)
    except ValueError:
        return None
    tz = (groups.get("tz") or "utc").lower()
    if tz in _TZ_HOURS:
        offset = timedelta(hours=_TZ_HOURS[tz])
    else:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (value - offset).replace(tzinfo=timezone.utc)


# --- bylines -----------------------------------------------------------------------------------------------------

_BYLINE = re.compile(r"^(?:written\s+|posted\s+|words\s+|story\s+)?by\s*:?\s+(?P<name>[^\d\s][^\d]*?)\s*$", re.I)


def parse_byline(line: str) -> str | None:
    """The name in a byline ("By Jane Doe", "By admin"); None when `line` is not one."""
    m = _BYLINE.match(line)
    if not m or line.rstrip().endswith((".", "!", "?")):
        return None
    name = m.group("name").strip(" ,|")
    words = name.replace(",", " ").split()
    if not 1 <= len(words) <= 6 or not all(w[0].isalpha() or w in ("&", "and") for w in words):
        return None
    # "By 2030, ..." style openings are prose: a name's words are capitalized or a lone handle like "admin".
    if len(words) > 1 and not all(w[0].isupper() or w.lower() in ("and", "&", "de", "van", "von", "la", "da") for w in words):
        return None
    return name


# --- boilerplate lines -------------------------------------------------------------------------------------------

_SOCIAL = (r"(?:facebook|twitter|x|threads|linkedin|reddit|whatsapp|pinterest|bluesky|mastodon|telegram|email|e-mail|"
           r"messenger|tumblr|hacker news|flipboard|instagram|youtube|tiktok|print|copy link|sms)")
_FOOTER_LINK = (r"(?:terms(?: of (?:service|use))?|terms (?:and|&) conditions|privacy(?: policy| notice)?|cookies?(?: policy|"
                r" settings| preferences)?|contact(?: us)?|about(?: us)?|careers|jobs|advertise(?: with us)?|help|faq|"
                r"sitemap|accessibility|imprint|legal|do not sell my (?:personal )?info(?:rmation)?)")
# (pattern, longest line in words it may remove)
_BOILERPLATE: list[tuple[re.Pattern[str], int]] = [(re.compile(p, re.I), n) for p, n in [
    # share links and social buttons
    (rf"^(?:share|tweet|post|pin|send|email)(?: (?:this|it|the)?\s*(?:article|story|post|page|issue)?)?"
     rf"(?: (?:on|to|via|with|by))? ?{_SOCIAL}?$", 6),
    (rf"^{_SOCIAL}(?:\s*[|·•,/]?\s*{_SOCIAL})*$", 12),
    (r"^(?:share|follow us|follow|like us|connect with us)(?: (?:on|at))?\s*:?.*$", 5),
    # "view in browser" links of newsletters
    (r"^(?:read|view)(?: (?:this|it))?(?: (?:email|issue|post|newsletter))?(?: (?:online|on the web|in (?:your |a |the )?"
     r"(?:browser|app)))$", 8),
    (r"^(?:forwarded this(?: email)?|having trouble (?:viewing|reading)|was this (?:email )?forwarded to you|"
     r"trouble viewing)\b.*$", 20),
    # subscribe prompts and forms
    (r"^(?:subscribe|sign up|signup|join|get|start|become)\b.*\b(?:newsletters?|inbox|updates|subscri\w+|free|learning|"
     r"today|now|email|list|member|membership|trial|digest)\b.*$", 25),
    (r"^(?:subscribe|sign up|sign in|log in|login|register|join now|join us|donate|support us)\b.{0,40}$", 8),
    (r"^(?:already (?:a )?(?:subscriber|member|subscribed)|not (?:a )?subscriber|enter your (?:email|e-mail|information|"
     r"details|name)|your email(?: address)?|e-?mail address|first name|last name)\b.*$", 12),
    (r"^by (?:submitting|signing up|subscribing|clicking|entering|continuing|providing)\b.*$", 40),
    (r"^(?:we (?:respect|value|care about) your privacy|no spam|unsubscribe at any time)\b.*$", 20),
    (r"^.*\b(?:unsubscribe|email preferences|update your preferences|manage (?:your )?(?:subscription|preferences|"
     r"email settings))\b.*$", 12),
    (r"^(?:show (?:your|some) support|support (?:us|our (?:work|journalism|newsroom))|become a (?:member|subscriber|"
     r"patron|supporter))\b.*$", 12),
    # ads and sponsors
    (r"^(?:advertisement|advertising|ad|ads|sponsored(?: (?:content|post|message|link))?|promoted|paid (?:post|"
     r"content|partnership)|partner content|supported by\b.*)$", 6),
    (r"^(?:thank you|thanks) for (?:your )?support\w*\b.*\bads?\b.*$", 40),
    # navigation, related links, tags
    (r"^(?:explore|browse|more|trending|popular|related|latest|top|recommended|editor'?s picks)(?: (?:our|in|from|on|"
     r"the))*(?: (?:topics?|sections?|categories|stories|articles|news|posts|reads|reading|links|content|videos))?\s*:?$", 6),
    (r"^(?:skip to (?:main )?content|skip navigation|main menu|menu|home|search|sections|topics|navigation|"
     r"toggle navigation|close|open menu|back to top|go to top|scroll to top)\s*:?$", 4),
    (r"^(?:read more|continue reading|read the full (?:story|article)|see more|load more|show more|more stories|"
     r"click here|learn more)\b.{0,40}$", 8),
    (r"^(?:you (?:may|might) (?:also )?(?:like|enjoy)|related (?:articles|stories|posts|reading|content)|"
     r"more from|recommended for you|also read|see also|read next|up next|tags?|filed under|categories|topics)\b.*$", 12),
    # footers
    (r"^(?:©|\(c\)|copyright\s*(?:©|\(c\))?\s*(?:\d{4}|by\b)).*$", 20),
    (r"^.*\ball rights reserved\b.*$", 20),
    (rf"^{_FOOTER_LINK}(?:\s*[|·•,&/]\s*{_FOOTER_LINK}|\s+(?:and|&)\s+{_FOOTER_LINK})*\.?$", 16),
    (r"^.*\bpowered by\b.*$", 8),
    (r"^.*\blogo\b.*$", 4),
    # media credits and captions that are only a credit
    (r"^(?:image|photo|photograph|picture|illustration|video|graphic|source|credit)s?(?: credits?)?\s*:.*$", 15),
    (r"^(?:getty images|shutterstock|reuters|ap photo|afp)\b.{0,40}$", 8),
]]
_AD_MARKER = re.compile(
    r"^(?:in partnership with|together with|presented by|brought to you by|sponsored by|a word from (?:our )?sponsors?|"
    r"from our sponsors?|today'?s sponsor|this (?:issue|newsletter|episode|post|email) is (?:sponsored|brought to you|"
    r"presented) by)\b.{0,60}$",
    re.I,
)
_CALL_TO_ACTION = re.compile(
    r"^(?:sign up|subscribe|try|get started|get it|get (?:the|your)|learn more|download|join|register|claim|shop|buy|"
    r"click here|check (?:it|them) out|find out more|sign me up|read more|start (?:learning|reading|your|now|today))\b"
    r".{0,80}$",
    re.I,
)
# A postal address line: starts with a street number, has several comma-separated parts, ends with a postcode or a country.
_ADDRESS = re.compile(
    r"^(?:\d{1,6}[a-z]?\s+|p\.?\s?o\.?\s+box\s+\d+).{3,120},.+,\s*(?:.*\b\d{5}(?:-\d{4})?\b.*|.*\b[a-z]{1,2}\d[a-z\d]?\s+"
    r"\d[a-z]{2}\b.*|united states(?: of america)?|usa|u\.s\.a\.|united kingdom|uk|canada|australia|germany|france|"
    r"ireland|india|singapore|the netherlands|netherlands)\.?$",
    re.I,
)
_STRONG_FOOTER = re.compile(
    r"^(?:©|\(c\)|copyright\s*(?:©|\(c\))?\s*(?:\d{4}|by\b)|.*\bunsubscribe\b|.*\ball rights reserved\b|.*\bpowered by\b|by submitting\b|"
    r"update your (?:email )?preferences\b)",
    re.I,
)
_BARE_URL = re.compile(r"^(?:<)?(?:https?://|www\.)\S+?(?:>)?$", re.I)
_BULLET = re.compile(r"^(?:[-*•–·▪◦]|\d{1,2}[.)])\s+(?P<body>\S.*)$")


def normalize_line(line: str) -> str:
    """Runs of (Unicode) spaces as one space, trimmed."""
    if line.isascii() and "  " not in line and "\t" not in line and "\r" not in line and "\f" not in line \
            and "\v" not in line:
        return line.strip()  # the common case, and what the substitution below would give: skip the regex scan
    return _SPACES.sub(" ", line).strip()


def word_count(text: str) -> int:
    return len(text.split())


def _bucket_patterns(rules: list[tuple[re.Pattern[str], int]]) -> list[tuple[int, re.Pattern[str]]]:
    """One alternation per word limit, longest limit first: a line is tried only against the buckets it fits."""
    by_limit: dict[int, list[str]] = {}
    for pattern, limit in rules:
        by_limit.setdefault(limit, []).append(f"(?:{pattern.pattern})")
    return [(limit, re.compile("|".join(parts), re.I)) for limit, parts in sorted(by_limit.items(), reverse=True)]


_BOILERPLATE_BUCKETS = _bucket_patterns(_BOILERPLATE)
_MAX_BOILERPLATE_WORDS = _BOILERPLATE_BUCKETS[0][0]
_MAX_META_WORDS = 20


def is_boilerplate(line: str) -> bool:
    """A share link, subscribe prompt, ad label, navigation, footer, address, credit or a bare URL."""
    line = normalize_line(line)
    return bool(line) and _is_boilerplate(line, word_count(line))


def _is_boilerplate(line: str, words: int) -> bool:
    if words > _MAX_BOILERPLATE_WORDS:
        return False
    if _BARE_URL.match(line) or _READING_TIME.match(line):
        return True
    if words <= 25 and _ADDRESS.match(line):
        return True
    for limit, pattern in _BOILERPLATE_BUCKETS:
        if words > limit:
            break
        if pattern.match(line):
            return True
    return False


def _meta_parts(line: str) -> list[str]:
    return [p.strip() for p in re.split(r"\s+[|·•]\s+|\s+—\s+|\s*\|\s*", line) if p.strip()]


def read_meta_line(line: str) -> tuple[bool, datetime | None, str | None]:
    """(is_meta, date, author) of a line made only of a date, a byline, a reading time or link labels."""
    parts = _meta_parts(line)
    if not parts:
        return False, None, None
    date: datetime | None = None
    author: str | None = None
    informative = False
    for part in parts:
        parsed = parse_date(part)
        if parsed is not None:
            date = date or parsed
            informative = True
            continue
        name = parse_byline(part)
        if name is not None:
            author = author or name
            informative = True
            continue
        if _READING_TIME.match(part) or is_boilerplate(part):
            continue
        return False, None, None
    return informative, date, author


def is_body_line(line: str) -> bool:
    """A line of prose: long, or a full sentence of some length."""
    words = word_count(line)
    return words >= 30 or (words >= 10 and line.endswith(_END_PUNCT))


def is_heading(line: str) -> bool:
    """A short line that does not end like a sentence: a section heading or a label."""
    return word_count(line) <= MAX_HEADING_WORDS and not line.endswith(_END_PUNCT) and not _BULLET.match(line)


def title_case_ratio(line: str) -> float:
    """Share of a line's significant words that start with a capital ("Title Case" headlines score near 1)."""
    minor = {"a", "an", "the", "of", "and", "or", "for", "to", "in", "on", "at", "by", "with", "from", "as", "vs",
             "via", "but", "nor", "into", "over", "per", "than"}
    words = [w.strip("\"'“‘(") for w in line.split()]
    significant = [w for w in words if w and w[0].isalpha() and w.lower() not in minor]
    if not significant:
        return 0.0
    return sum(1 for w in significant if w[0].isupper()) / len(significant)


# --- the two entry points ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextArticle:
    """What the top of a plain-text article says about it, and its own paragraphs."""

    title: str | None
    published: datetime | None
    author: str | None
    paragraphs: tuple[str, ...]


def _mark_ad_blocks(lines: Sequence[str], drop: list[bool]) -> None:
    """Mark a sponsor block: from its marker line to its call to action (or to the end of the next text block)."""
    i = 0
    while i < len(lines):
        if not drop[i] and _AD_MARKER.match(lines[i]):
            end = _ad_block_end(lines, i)
            for j in range(i, end + 1):
                drop[j] = True
            i = end + 1
        else:
            i += 1


def _ad_block_end(lines: Sequence[str], start: int) -> int:
    seen = 0
    for j in range(start + 1, len(lines)):
        if not lines[j]:
            continue
        seen += 1
        if seen > MAX_AD_BLOCK_LINES:
            break
        if word_count(lines[j]) <= 12 and _CALL_TO_ACTION.match(lines[j]):
            return j
    # No call to action: the block is the marker and the text block right after it.
    j = start + 1
    while j < len(lines) and not lines[j]:
        j += 1
    while j < len(lines) and lines[j]:
        j += 1
    return j - 1


def _mark_footer_tail(lines: Sequence[str], drop: list[bool]) -> None:
    """After the last strong footer line near the end, nothing but short lines is left: drop them all."""
    start = len(lines) * 3 // 4
    for i in range(len(lines) - 1, start - 1, -1):
        if lines[i] and word_count(lines[i]) <= 20 and _STRONG_FOOTER.match(lines[i]):
            if not any(word_count(lines[j]) >= 25 and not drop[j] for j in range(i + 1, len(lines))):
                for j in range(i, len(lines)):
                    drop[j] = True
            return


def _join_wrapped(block: list[str]) -> list[str]:
    """Lines of one blank-line-separated block -> paragraphs: re-join hard-wrapped lines, keep one line per paragraph otherwise."""
    out: list[str] = []
    for line in block:
        if out and not out[-1].endswith(_END_PUNCT + (":",)) and len(out[-1]) >= 30 and line[:1].islower() \
                and not _BULLET.match(line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return out


def _paragraphs(lines: Sequence[str], drop: Sequence[bool], *, drop_headings: bool) -> list[str]:
    paragraphs: list[str] = []
    block: list[str] = []
    for line, dropped in zip([*lines, ""], [*drop, False], strict=True):
        if dropped:
            continue
        if line:
            block.append(line)
            continue
        for paragraph in _join_wrapped(block):
            bullet = _BULLET.match(paragraph)
            if bullet:
                paragraphs.append(bullet.group("body"))
            elif not (drop_headings and is_heading(paragraph)):
                paragraphs.append(paragraph)
        block = []
    return paragraphs


def _choose_title(candidates: list[str]) -> str | None:
    """The headline among the header lines: a Title Case line if there is one, else the first."""
    if not candidates:
        return None
    for line in candidates:
        if title_case_ratio(line) >= 0.75 and word_count(line) >= 3:
            return line
    return candidates[0]


def derive_title(paragraphs: Sequence[str]) -> str:
    """A headline from the first sentence of the text, cut at a clause boundary when long."""
    if not paragraphs:
        return "(untitled)"
    first = paragraphs[0]
    m = re.search(r"(?<!\b[A-Z])(?<!\b[A-Z][a-z])[.!?](?=\s+[\"“A-Z])", first)
    sentence = first[: m.start() + 1] if m else first
    words = sentence.split()
    if len(words) <= DERIVED_TITLE_WORDS:
        return sentence.rstrip(".").strip()
    # Cut at the first clause boundary after a few words; failing that, at the word limit with an ellipsis.
    count = 0
    for i, word in enumerate(words):
        count += 1
        if count >= 6 and word.endswith((",", ";", ":", "—")) and i + 1 < len(words):
            return " ".join(words[: i + 1]).rstrip(",;:—").strip()
    return " ".join(words[:DERIVED_TITLE_WORDS]).rstrip(",;:—") + "…"


def read_text_article(raw: str, *, title_hint: str | None = None) -> TextArticle:
    """Title, date, author and clean paragraphs of a plain-text article (a saved newsletter or web page)."""
    lines = [normalize_line(line) for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    published: datetime | None = None
    author: str | None = None
    # "date 2025-01-31 The first sentence..." : a date label glued to the first line.
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is not None:
        m = _LEADING_DATE.match(lines[first])
        if m and parse_date(m.group("date")):
            published = parse_date(m.group("date"))
            lines[first] = m.group("rest")
    drop = [False] * len(lines)
    _mark_ad_blocks(lines, drop)
    for i, line in enumerate(lines):
        if line and not drop[i] and is_boilerplate(line):
            drop[i] = True
    _mark_footer_tail(lines, drop)
    seen = 0
    for i, line in enumerate(lines):
        if not line:
            continue
        seen += 1
        is_meta, date, name = read_meta_line(line) if not drop[i] else (False, None, None)
        if is_meta:
            drop[i] = True
            if seen <= HEADER_SCAN_LINES:
                published = published or date
                author = author or name
        elif seen <= HEADER_SCAN_LINES and not drop[i] and parse_byline(line):
            drop[i] = True
            author = author or parse_byline(line)
    title = title_hint
    header: list[int] = []
    for i, line in enumerate(lines):
        if not line or drop[i]:
            continue
        if is_body_line(line):
            break
        header.append(i)
    if title is None:
        candidates = [lines[i] for i in header
                      if word_count(lines[i]) <= TITLE_MAX_WORDS and not lines[i].endswith(".") and not _BULLET.match(lines[i])]
        title = _choose_title(candidates)
    seen_lines: set[str] = set()
    for i in header:
        key = lines[i].casefold()
        if (title and key == title.casefold()) or key in seen_lines:
            drop[i] = True
        seen_lines.add(key)
    paragraphs = _paragraphs(lines, drop, drop_headings=True)
    if title and paragraphs and paragraphs[0].casefold() == title.casefold():
        paragraphs = paragraphs[1:]
    if author and author.casefold() in GENERIC_AUTHORS:
        author = None
    return TextArticle(title or derive_title(paragraphs), published, author, tuple(paragraphs))


def clean_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Drop boilerplate paragraphs (share links, sponsor blocks, subscribe prompts, footers) from HTML-derived text."""
    lines = [normalize_line(p) for p in paragraphs]
    lines = [line for line in lines if line]
    if not lines:
        return []
    spaced: list[str] = []
    for line in lines:  # one paragraph per block, so sponsor blocks without a call to action stop at the next one
        spaced += [line, ""]
    drop = [False] * len(spaced)
    _mark_ad_blocks(spaced, drop)
    for i, line in enumerate(spaced):
        if not line or drop[i]:
            continue
        words = word_count(line)
        if _is_boilerplate(line, words) or (words <= _MAX_META_WORDS and read_meta_line(line)[0]):
            drop[i] = True
    _mark_footer_tail(spaced, drop)
    return _paragraphs(spaced, drop, drop_headings=False)
