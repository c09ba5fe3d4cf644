"""The `digest` command line: parse arguments, call the library, format output.

Each command lives in a small module beside this one and calls one function
of `digest.pipeline` (or a stage). `DigestError` is turned into a one-line
``Error: …`` on stderr with the error's exit code (2 for bad config or input),
never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from ..errors import DigestError
from .context import AppContext

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DigestGroup(click.Group):
    """A click group that turns DigestError into a one-line error and exit code."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            for line in str(exc).splitlines() or [type(exc).__name__]:
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=DigestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    default=Path("config.toml"), envvar="DIGEST_CONFIG", show_default=True,
    help="The config file (or set DIGEST_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="digest")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: int, quiet: bool) -> None:
    """digest: feeds in, one ranked, deduplicated, summarized newsletter out.

    \b
    Quick start (the default config.toml reads the sample articles in seeds/):
        digest run          # ingest, build today's issue, deliver to the outbox
        digest sources      # what each source gave, and its last error
    """
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr, force=True)
    ctx.obj = AppContext(config_path=config_path, quiet=quiet, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


# Each module registers its commands on `main`.
from . import ingest  # noqa: E402,F401
from . import schedule  # noqa: E402,F401
from . import preview  # noqa: E402,F401
from . import build  # noqa: E402,F401
from . import summarize  # noqa: E402,F401
from . import subscribers  # noqa: E402,F401
from . import send  # noqa: E402,F401
from . import stories  # noqa: E402,F401
