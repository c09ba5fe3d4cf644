"""config.toml -> a validated, frozen `Config`.

Each section is a frozen dataclass whose field defaults are the built-in
defaults. Loading checks every key: unknown keys (with a "did you mean"),
wrong types and out-of-range values each give one line naming the file and
the key, e.g. ``config.toml: [[sources]][2].weight: expected a number, got "high"``.
Nothing falls back silently. Secrets are never read from the file: the file
names the environment variable that holds them.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

DEFAULT_CONFIG_NAME = "config.toml"
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


@dataclass(frozen=True)
class DigestSection:
    title: str = "Tech Rundown"
    tagline: str = "The tech news that matters, in five minutes."
    timezone: str = "UTC"
    lookback_hours: int = 48
    max_stories: int = 5
    max_key_points: int = 5
    min_key_points: int = 3
    quick_hits: int = 5

    def check(self, err: _Errors) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            err.add("timezone", f"unknown time zone {self.timezone!r}")
        err.at_least("lookback_hours", self.lookback_hours, 1)
        err.between("max_stories", self.max_stories, 1, 100)
        err.between("max_key_points", self.max_key_points, 1, 20)
        err.between("min_key_points", self.min_key_points, 1, self.max_key_points)
        err.between("quick_hits", self.quick_hits, 0, 100)


@dataclass(frozen=True)
class SourceSection:
    name: str
    url: str  # http(s) URL of a feed, or a path to a feed file, an article file or a folder
    weight: float = 1.0
    enabled: bool = True
    fetch_full_text: bool = False

    @property
    def is_remote(self) -> bool:
        return self.url.startswith(("http://", "https://"))

    def check(self, err: _Errors) -> None:
        if not self.name.strip():
            err.add("name", "must not be empty")
        err.between("weight", self.weight, 0, 100)
        if "://" in self.url and not self.is_remote and not self.url.startswith("file://"):
            err.add("url", f"expected an http(s) URL or a path, got {self.url!r}")


@dataclass(frozen=True)
class IngestSection:
    concurrency: int = 16
    timeout_seconds: float = 15.0
    max_bytes: int = 5_000_000
    user_agent: str = "digest/0.1 (+https://github.com/digest-newsletter/digest)"

    def check(self, err: _Errors) -> None:
        err.between("concurrency", self.concurrency, 1, 256)
        err.between("timeout_seconds", self.timeout_seconds, 0.1, 600)
        err.at_least("max_bytes", self.max_bytes, 1024)


@dataclass(frozen=True)
class StorageSection:
    path: str = "var/digest.sqlite3"


@dataclass(frozen=True)
class DedupSection:
    near_duplicate_threshold: float = 0.6  # Jaccard of 5-word shingles for a syndicated copy
    containment_threshold: float = 0.8  # share of the shorter text's shingles found in the longer one
    story_threshold: float = 0.25  # average similarity for independent articles on one event
    window_hours: int = 120  # articles published further apart never join one story
    memory_days: int = 14  # a story sent longer ago than this is not matched again
    min_new_facts: float = 2.0  # new figures (1 each) and names (0.5 each) an update needs

    def check(self, err: _Errors) -> None:
        err.between("near_duplicate_threshold", self.near_duplicate_threshold, 0.05, 1)
        err.between("containment_threshold", self.containment_threshold, 0.05, 1)
        err.between("story_threshold", self.story_threshold, 0.01, 1)
        err.at_least("window_hours", self.window_hours, 1)
        err.at_least("memory_days", self.memory_days, 0)
        err.between("min_new_facts", self.min_new_facts, 0, 100)


@dataclass(frozen=True)
class SummarizeSection:
    backend: str = "extractive"  # "extractive" or "llm"
    max_point_words: int = 40

    def check(self, err: _Errors) -> None:
        err.one_of("backend", self.backend, ("extractive", "llm"))
        err.between("max_point_words", self.max_point_words, 8, 200)


@dataclass(frozen=True)
class LLMSection:
    endpoint: str = "http://127.0.0.1:11434/v1/chat/completions"
    model: str = "llama3.1"
    api_key_env: str = ""  # name of the environment variable holding the key; empty for none
    timeout_seconds: float = 60.0

    def check(self, err: _Errors) -> None:
        err.url("endpoint", self.endpoint)
        err.between("timeout_seconds", self.timeout_seconds, 0.1, 3600)
        if not self.model.strip():
            err.add("model", "must not be empty")
        if self.api_key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env):
            err.add("api_key_env", f"expected an environment variable name, got {self.api_key_env!r}")


@dataclass(frozen=True)
class SponsorSection:
    enabled: bool = False
    name: str = ""
    url: str = ""
    text: str = ""

    def check(self, err: _Errors) -> None:
        if self.enabled:
            err.url("url", self.url)
            if not self.name:
                err.add("name", "must be set when the sponsor block is enabled")


@dataclass(frozen=True)
class RenderSection:
    templates_dir: str = ""  # a folder whose partials override the built-in templates
    output_dir: str = "out"
    archive_url: str = "http://127.0.0.1:8025/archive"  # public base URL of the web archive
    logo_url: str = ""
    sender_name: str = "Tech Rundown"
    postal_address: str = "228 Park Ave S, New York, NY 10003, United States"
    accent_color: str = "#2563eb"
    text_color: str = "#1f2937"
    background_color: str = "#f3f4f6"
    language: str = "en"  # the <html lang> of the email and the archive
    share_links: bool = True  # Facebook / X / Threads / LinkedIn links under the headline
    sponsor: SponsorSection = field(default_factory=SponsorSection)

    def check(self, err: _Errors) -> None:
        err.url("archive_url", self.archive_url)
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", self.language):
            err.add("language", f"expected a language tag like en or pt-BR, got {self.language!r}")
        if not self.sender_name.strip():
            err.add("sender_name", "must not be empty")
        if not self.postal_address.strip():
            err.add("postal_address", "must not be empty (anti-spam law requires a postal address)")
        if self.logo_url:
            err.url("logo_url", self.logo_url)
        for key in ("accent_color", "text_color", "background_color"):
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", getattr(self, key)):
                err.add(key, f"expected a color like #1a2b3c, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class PreviewSection:
    host: str = "127.0.0.1"
    port: int = 8025
    sample_subscriber: str = ""  # email of the [[subscribers]] entry the preview greets; "" for the first
    poll_seconds: float = 0.3  # how often templates and config.toml are checked for changes

    def check(self, err: _Errors) -> None:
        if not self.host.strip():
            err.add("host", "must not be empty")
        err.between("port", self.port, 1, 65535)
        if self.sample_subscriber:
            err.email("sample_subscriber", self.sample_subscriber)
        err.between("poll_seconds", self.poll_seconds, 0.05, 10)


@dataclass(frozen=True)
class SMTPSection:
    host: str = "127.0.0.1"
    port: int = 587
    security: str = "starttls"  # "none", "starttls" or "tls" (implicit TLS, usually port 465)
    username: str = ""
    password_env: str = "DIGEST_SMTP_PASSWORD"  # the password is read from this variable
    pool_size: int = 4
    max_per_second: float = 0  # 0: no cap
    max_per_hour: int = 0  # 0: no cap
    timeout_seconds: float = 30.0
    max_retries: int = 5
    retry_backoff_seconds: float = 30.0  # first wait after a 4xx; doubles on each further attempt
    verify_tls: bool = True
    ca_file: str = ""  # PEM file of CAs to trust instead of the system's (a private relay's certificate)

    @property
    def password(self) -> str | None:
        return os.environ.get(self.password_env) if self.password_env else None

    def check(self, err: _Errors) -> None:
        err.between("port", self.port, 1, 65535)
        err.one_of("security", self.security, ("none", "starttls", "tls"))
        err.between("pool_size", self.pool_size, 1, 64)
        err.at_least("max_per_second", self.max_per_second, 0)
        err.at_least("max_per_hour", self.max_per_hour, 0)
        err.between("timeout_seconds", self.timeout_seconds, 0.1, 600)
        err.between("max_retries", self.max_retries, 0, 50)
        err.between("retry_backoff_seconds", self.retry_backoff_seconds, 0, 3600)
        if self.username and not self.password_env:
            err.add("password_env", "must name an environment variable when username is set")


@dataclass(frozen=True)
class DKIMSection:
    enabled: bool = False
    domain: str = ""
    selector: str = ""
    key_file: str = ""

    def check(self, err: _Errors) -> None:
        if self.enabled:
            for key in ("domain", "selector", "key_file"):
                if not getattr(self, key):
                    err.add(key, "must be set when DKIM is enabled")


@dataclass(frozen=True)
class DeliverySection:
    mode: str = "outbox"  # "outbox" writes .eml files; "smtp" hands messages to the relay
    outbox_dir: str = "var/outbox"
    from_address: str = "digest@example.com"
    from_name: str = "Tech Rundown"
    reply_to: str = ""
    subject: str = "{headline}"  # {headline}, {title} and {date} are filled in
    list_id: str = "tech-rundown.example.com"
    unsubscribe_url: str = "http://127.0.0.1:8026/unsubscribe"  # base URL of `digest serve`
    unsubscribe_mailto: str = "unsubscribe@example.com"
    secret_env: str = "DIGEST_SECRET"  # HMAC key for unsubscribe tokens
    bounce_after: int = 3  # permanent failures before a subscriber is marked bounced

    def check(self, err: _Errors) -> None:
        err.one_of("mode", self.mode, ("outbox", "smtp"))
        err.email("from_address", self.from_address)
        if self.reply_to:
            err.email("reply_to", self.reply_to)
        err.email("unsubscribe_mailto", self.unsubscribe_mailto)
        err.url("unsubscribe_url", self.unsubscribe_url)
        err.at_least("bounce_after", self.bounce_after, 1)
        for char in "\r\n":
            for key in ("from_name", "subject", "list_id"):
                if char in getattr(self, key):
                    err.add(key, "must be a single line")
        try:
            self.subject.format(headline="", title="", date="")
        except (KeyError, IndexError, ValueError) as exc:
            err.add("subject", f"only {{headline}}, {{title}} and {{date}} can be filled in ({exc!r} is not)")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", self.list_id):
            err.add("list_id", f"expected a domain-like id such as news.example.com, got {self.list_id!r}")
        if not self.secret_env.strip():
            err.add("secret_env", "must name an environment variable")


@dataclass(frozen=True)
class SubscriberSection:
    email: str
    first_name: str = ""

    def check(self, err: _Errors) -> None:
        err.email("email", self.email)


@dataclass(frozen=True)
class ServeSection:
    host: str = "127.0.0.1"
    port: int = 8026

    def check(self, err: _Errors) -> None:
        err.between("port", self.port, 1, 65535)


_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ScheduleSection:
    cron: str = "0 7 * * *"  # minute hour day month weekday (0 or 7 = Sunday), in [digest].timezone
    ingest_interval_minutes: int = 0  # 0: ingest only when the issue is built
    grace_hours: float = 6.0  # a slot missed by less than this runs late; older ones are skipped
    min_new_stories: int = 1  # fewer new stories than this: the slot is skipped, nothing sent

    @property
    def apscheduler_cron(self) -> str:
        """`cron` as APScheduler 3.x must read it to mean what crontab means.

        APScheduler counts weekdays from Monday = 0, so crontab's "1-5" would silently
        become Tuesday to Saturday: numbers become names, and "sun-thu" becomes "sun,mon-thu".
        """
        parts = self.cron.split()
        if len(parts) == 5:
            day = re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda m: _CRON_WEEKDAYS[int(m.group(1))], parts[4])
            parts[4] = re.sub(r"\bsun-(mon|tue|wed|thu|fri|sat)\b", r"sun,mon-\1", day, flags=re.IGNORECASE)
        return " ".join(parts)

    def check(self, err: _Errors) -> None:
        if len(self.cron.split()) != 5:
            err.add("cron", f"expected 5 fields (minute hour day month weekday), got {self.cron!r}")
        else:
            from apscheduler.triggers.cron import CronTrigger  # only needed to validate

            try:
                CronTrigger.from_crontab(self.apscheduler_cron, timezone="UTC")
            except ValueError as exc:
                err.add("cron", f"{exc} in {self.cron!r}")
        err.at_least("ingest_interval_minutes", self.ingest_interval_minutes, 0)
        err.between("grace_hours", self.grace_hours, 0, 168)
        err.at_least("min_new_stories", self.min_new_stories, 0)


@dataclass(frozen=True)
class Config:
    """The whole validated configuration. `base_dir` anchors relative paths."""

    base_dir: Path
    digest: DigestSection = field(default_factory=DigestSection)
    sources: tuple[SourceSection, ...] = ()
    ingest: IngestSection = field(default_factory=IngestSection)
    storage: StorageSection = field(default_factory=StorageSection)
    dedup: DedupSection = field(default_factory=DedupSection)
    summarize: SummarizeSection = field(default_factory=SummarizeSection)
    llm: LLMSection = field(default_factory=LLMSection)
    render: RenderSection = field(default_factory=RenderSection)
    preview: PreviewSection = field(default_factory=PreviewSection)
    delivery: DeliverySection = field(default_factory=DeliverySection)
    smtp: SMTPSection = field(default_factory=SMTPSection)
    dkim: DKIMSection = field(default_factory=DKIMSection)
    subscribers: tuple[SubscriberSection, ...] = ()
    serve: ServeSection = field(default_factory=ServeSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)

    def path(self, value: str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def db_path(self) -> Path:
        return self.path(self.storage.path)

    @property
    def templates_path(self) -> Path | None:
        """The user's templates folder that overrides the built-in partials, or None."""
        return self.path(self.render.templates_dir) if self.render.templates_dir else None

    @property
    def output_dir(self) -> Path:
        return self.path(self.render.output_dir)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.digest.timezone)

    def source(self, name: str) -> SourceSection | None:
        return next((s for s in self.sources if s.name == name), None)


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return parse_config(raw, base_dir=path.resolve().parent, filename=str(path))


def parse_config(raw: dict[str, Any], base_dir: Path, filename: str = DEFAULT_CONFIG_NAME) -> Config:
    """Validate an already-parsed TOML document (handy for tests)."""
    err = _Errors(filename)
    values: dict[str, Any] = {}
    hints = typing.get_type_hints(Config)
    for f in fields(Config):
        if f.name == "base_dir" or f.name not in raw:
            continue
        hint = hints[f.name]
        if typing.get_origin(hint) is tuple:
            inner = typing.get_args(hint)[0]
            items = raw[f.name]
            if not isinstance(items, list):
                err.at(f"[[{f.name}]]").add_here(f"expected an array of tables [[{f.name}]], got {_describe(items)}")
                continue
            built = [_build(inner, item, err.at(f"[[{f.name}]][{i + 1}]")) for i, item in enumerate(items)]
            values[f.name] = tuple(b for b in built if b is not None)
        else:
            section = _build(hint, raw[f.name], err.at(f"[{f.name}]"))
            if section is not None:
                values[f.name] = section
    known = {f.name for f in fields(Config)} - {"base_dir"}
    for key in raw:
        if key not in known:
            err.unknown(key, known, top_level=True)
    _check_sources_unique(raw.get("sources"), err)
    err.raise_if_any()
    return Config(base_dir=base_dir, **values)


def _check_sources_unique(sources: Any, err: _Errors) -> None:
    seen: set[str] = set()
    for i, source in enumerate(sources if isinstance(sources, list) else [], start=1):
        name = source.get("name") if isinstance(source, dict) else None
        if name in seen:
            err.at(f"[[sources]][{i}]").add("name", f"duplicate source name {name!r}")
        if isinstance(name, str):
            seen.add(name)


def _build(cls: type, table: Any, err: _Errors) -> Any:
    if not isinstance(table, dict):
        err.add_here(f"expected a table, got {_describe(table)}")
        return None
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    ok = True
    for f in fields(cls):
        if f.name not in table:
            if f.default is MISSING and f.default_factory is MISSING:
                err.add(f.name, "is required")
                ok = False
            continue
        value = _coerce(hints[f.name], table[f.name], err, f.name)
        if value is _INVALID:
            ok = False
        else:
            kwargs[f.name] = value
    names = {f.name for f in fields(cls)}
    for key in table:
        if key not in names:
            err.unknown(key, names)
    if not ok:
        return None
    obj = cls(**kwargs)
    if hasattr(obj, "check"):
        obj.check(err)
    return obj


_INVALID = object()


def _coerce(hint: Any, value: Any, err: _Errors, key: str) -> Any:
    if isinstance(hint, type) and hasattr(hint, "__dataclass_fields__"):
        built = _build(hint, value, err.at(f"{err.prefix[:-1]}.{key}]"))
        return _INVALID if built is None else built
    expected = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in expected and type(value) is hint:
        return value
    if hint in expected:
        err.add(key, f"expected {expected[hint]}, got {_describe(value)}")
        return _INVALID
    if typing.get_origin(hint) is tuple or typing.get_origin(hint) is list:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        err.add(key, f"expected a list of strings, got {_describe(value)}")
        return _INVALID
    return value


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


class _Errors:
    """Collects one line per problem, all prefixed with the file and key path."""

    def __init__(self, filename: str, prefix: str = "", sink: list[str] | None = None) -> None:
        self.filename = filename
        self.prefix = prefix
        self.lines: list[str] = [] if sink is None else sink

    def at(self, prefix: str) -> _Errors:
        return _Errors(self.filename, prefix, self.lines)

    def add(self, key: str, problem: str) -> None:
        where = f"{self.prefix}.{key}" if self.prefix else key
        self.lines.append(f"{self.filename}: {where}: {problem}")

    def add_here(self, problem: str) -> None:
        self.lines.append(f"{self.filename}: {self.prefix}: {problem}")

    def unknown(self, key: str, known: set[str], top_level: bool = False) -> None:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if top_level:
            self.lines.append(f"{self.filename}: [{key}]: unknown section{hint}")
        else:
            self.add(key, f"unknown key{hint}")

    def between(self, key: str, value: float, low: float, high: float) -> None:
        if not low <= value <= high:
            self.add(key, f"must be between {low:g} and {high:g}, got {value!r}")

    def at_least(self, key: str, value: float, low: float) -> None:
        if value < low:
            self.add(key, f"must be at least {low:g}, got {value!r}")

    def one_of(self, key: str, value: str, choices: tuple[str, ...]) -> None:
        if value not in choices:
            self.add(key, f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")

    def url(self, key: str, value: str) -> None:
        if not re.match(r"^https?://[^\s/]+", value or ""):
            self.add(key, f"expected an http(s) URL, got {value!r}")

    def email(self, key: str, value: str) -> None:
        if not _EMAIL.match(value or ""):
            self.add(key, f"expected an email address, got {value!r}")

    def raise_if_any(self) -> None:
        if self.lines:
            raise ConfigError("\n".join(self.lines))

