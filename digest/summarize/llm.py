"""Optional LLM backend: an OpenAI-compatible chat-completions endpoint rewrites the extractive summary.

Off by default (``[summarize] backend = "extractive"``). The model gets the
story's articles and the extractive points, and must answer with JSON. Its
output is checked against the articles before use: a headline, Rundown, key
point or Why-it-matters line holding a number or a name that no article
holds is dropped and the extractive one kept in its place. A timeout, an HTTP
error or an unreadable answer logs a warning and returns the extractive
summary unchanged: a build never fails because the model did.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import replace

import httpx

from ..config import LLMSection
from ..errors import SummarizeError
from ..models import KeyPoint, Summary
from . import facts
from .scoring import DUPLICATE_AT

log = logging.getLogger(__name__)

MAX_ARTICLE_CHARS = 6000  # per article in the prompt: the lead and body, rarely the footer
ROUNDING_TOLERANCE = 0.02  # "$5.6 million" -> "$5.6M" passes; "$7 million" does not

SYSTEM_PROMPT = (
    "You edit a tech newsletter. Summarize the news story told by the articles below. Use only facts stated "
    "in the articles; copy every number and name exactly as an article gives it; never add a fact. "
    "Answer with one JSON object and nothing else: "
    '{"headline": "at most 12 words", "rundown": "one or two sentences saying what happened", '
    '"details": ["one self-contained sentence per key fact, most important first"], '
    '"why_it_matters": "one sentence on consequences that an article states, or null"}'
)


def refine_with_llm(extractive: Summary, settings: LLMSection, *, max_points: int) -> Summary:
    """The LLM's summary where it checks out against the articles, the extractive one everywhere else."""
    try:
        answer = request_summary(extractive, settings, max_points=max_points)
    except SummarizeError as exc:
        log.warning("story=%s llm fallback to extractive: %s", extractive.story.id, exc)
        return extractive
    return merge_checked(extractive, answer, max_points=max_points)


def request_summary(extractive: Summary, settings: LLMSection, *, max_points: int) -> dict:
    """POST the story to the chat-completions endpoint and return the parsed JSON answer.

    SummarizeError when the endpoint times out, fails or answers something unusable.
    """
    headers = {"Content-Type": "application/json"}
    if settings.api_key_env:
        key = os.environ.get(settings.api_key_env)
        if not key:
            raise SummarizeError(f"environment variable {settings.api_key_env} (from [llm].api_key_env) is not set")
        headers["Authorization"] = f"Bearer {key}"
    body = {
        "model": settings.model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": _user_prompt(extractive, max_points)},
        ],
    }
    try:
        with httpx.Client(timeout=settings.timeout_seconds) as client:
            response = client.post(settings.endpoint, json=body, headers=headers)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
    except httpx.TimeoutException as exc:
        raise SummarizeError(f"{settings.endpoint} timed out after {settings.timeout_seconds:g} s") from exc
    except httpx.HTTPStatusError as exc:
        raise SummarizeError(f"{settings.endpoint} answered HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise SummarizeError(f"{settings.endpoint}: {exc}") from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise SummarizeError(f"{settings.endpoint} sent no chat completion: {exc!r}") from exc
    return _parse_answer(content)


def _user_prompt(extractive: Summary, max_points: int) -> str:
    parts = [f"Write at most {max_points} details.", ""]
    for i, article in enumerate(extractive.story.articles, start=1):
        parts += [f"## Article {i}: {article.source}: {article.title}", article.text[:MAX_ARTICLE_CHARS], ""]
    parts.append("## Key facts found so far (most important first)")
    parts += [f"- {p.text}" for p in extractive.details]
    return "\n".join(parts)


def _parse_answer(content: object) -> dict:
    if not isinstance(content, str):
        raise SummarizeError("the answer is not text")
    match = re.search(r"\{.*\}", content, re.DOTALL)  # tolerate ```json fences and chatter around the object
    if not match:
        raise SummarizeError("the answer holds no JSON object")
    try:
        answer = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise SummarizeError(f"the answer is not valid JSON: {exc}") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("details", []), list):
        raise SummarizeError("the answer is not a summary object")
    return answer


def _numbers_agree(claimed: facts.Quantity, stated: facts.Quantity) -> bool:
    if claimed.kind != stated.kind:
        return False
    if claimed.value == stated.value:
        return True
    high = max(abs(claimed.value), abs(stated.value))
    if abs(claimed.value - stated.value) / high <= ROUNDING_TOLERANCE:
        return True
    # Rounded to one or two significant figures: $5.6 million -> "$6M", $593 billion -> "$600 billion".
    return any(float(f"{stated.value:.{digits}g}") == claimed.value for digits in (1, 2))


class Grounding:
    """The numbers and words of a story's articles, to check a generated sentence against."""

    def __init__(self, summary: Summary) -> None:
        texts = [f"{a.title}\n{a.text}" for a in summary.story.articles]
        self.text = "\n".join(texts).lower()
        self.numbers = facts.quantities("\n".join(texts))

    def unsupported(self, sentence: str) -> list[str]:
        """What in `sentence` no article states: numbers and capitalised names."""
        missing = [f"{q.value:g}" for q in facts.quantities(sentence)
                   if not any(_numbers_agree(q, s) for s in self.numbers)]
        for name in facts.entities(facts.words(sentence)):
            if name not in self.text:
                missing.append(name)
        return missing


def merge_checked(extractive: Summary, answer: dict, *, max_points: int) -> Summary:
    """Take each part of the answer that the articles support; keep the extractive part otherwise."""
    ground = Grounding(extractive)
    story_id = extractive.story.id

    def checked(field: str, fallback: str | None) -> str | None:
        value = answer.get(field)
        if not isinstance(value, str) or not value.strip():
            return fallback
        missing = ground.unsupported(value)
        if missing:
            log.info("story=%s llm %s dropped, not in the articles: %s", story_id, field, ", ".join(missing))
            return fallback
        return value.strip()

    spare = list(extractive.details)
    details: list[KeyPoint] = []
    for i, raw in enumerate(answer.get("details") or []):
        if len(details) >= max_points:
            break
        rank_score = extractive.details[i].score if i < len(extractive.details) else round(1.0 / (i + 1), 3)
        text = raw.strip() if isinstance(raw, str) else ""
        missing = ground.unsupported(text) if text else ["empty"]
        if not missing:
            details.append(KeyPoint(text, rank_score, _attribute(text, extractive)))
            continue
        log.info("story=%s llm point dropped, not in the articles: %s", story_id, ", ".join(missing))
        substitute = _next_unused(spare, details)
        if substitute is not None:
            details.append(replace(substitute, score=rank_score))
    if not details:
        details = list(extractive.details)
    return replace(
        extractive,
        headline=checked("headline", extractive.headline) or extractive.headline,
        rundown=checked("rundown", extractive.rundown) or extractive.rundown,
        details=tuple(details),
        why_it_matters=checked("why_it_matters", extractive.why_it_matters),
    )


def _keys(text: str) -> tuple[frozenset[str], tuple[facts.Quantity, ...], frozenset[str]]:
    keys = facts.sentence_keys(text)
    return keys.stems, keys.numbers, keys.entities


def _next_unused(spare: list[KeyPoint], taken: list[KeyPoint]) -> KeyPoint | None:
    """The best extractive point that no accepted point already states."""
    while spare:
        candidate = spare.pop(0)
        keys = _keys(candidate.text)
        if all(facts.similarity(*keys, *_keys(t.text)) < DUPLICATE_AT for t in taken):
            return candidate
    return None


def _attribute(text: str, extractive: Summary) -> tuple[str, ...]:
    """The articles a generated point rests on: those holding its names and numbers, best match first."""
    words, numbers, names = _keys(text)
    ranked = []
    for article in extractive.story.articles:
        body = f"{article.title}\n{article.text}"
        lower = body.lower()
        art_numbers = facts.quantities(body)
        has_all = all(n in lower for n in names) and all(
            any(_numbers_agree(q, s) for s in art_numbers) for q in numbers)
        overlap = len(words & facts.content_stems(facts.words(body)))
        ranked.append((not has_all, -overlap, article.id))
    supported = tuple(aid for missing, _, aid in ranked if not missing)  # in story order
    if supported or not ranked:
        return supported
    return (min(ranked)[2],)  # no article holds every name and number: the closest in wording
