"""The one exception tree of `digest`.

Every error a user can cause or meet derives from `DigestError`; the CLI turns
it into a one-line message and an exit code. Third-party exceptions are
wrapped in the module that calls the library, never allowed to leak.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class of every error `digest` raises on purpose."""

    exit_code = 1


class ConfigError(DigestError):
    """config.toml is missing, malformed, or holds a bad value."""

    exit_code = 2


class InputError(DigestError):
    """A file, CSV row or argument given by the user cannot be used."""

    exit_code = 2


class StorageError(DigestError):
    """The SQLite state cannot be opened, migrated or written."""


class FetchError(DigestError):
    """One source could not be fetched or parsed (reported and skipped)."""


class SummarizeError(DigestError):
    """A story could not be summarized (or the LLM backend failed)."""


class RenderError(DigestError):
    """A template is missing or broken, or MJML failed to compile."""


class DeliveryError(DigestError):
    """A message could not be handed to the SMTP relay or the outbox."""


class ScheduleError(DigestError):
    """The scheduler cannot start (for example, another one holds the lock)."""
