"""`digest preview`: the local preview server."""

from __future__ import annotations

import signal
import webbrowser

import click

from ..preview import start_preview
from . import main
from .context import AppContext, pass_app


@main.command()
@click.option("--host", default=None, help="Listen on this address (default [preview].host, 127.0.0.1). "
                                            "Anything but loopback shows drafts to your network.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Listen on this port (default [preview].port, 8025; 0 picks a free one).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the preview in your browser.")
@pass_app
def preview(app: AppContext, host: str | None, port: int | None, open_browser: bool) -> None:
    """Serve the current draft and the archive in your browser, rebuilt as you edit.

    Builds the draft from what is ingested, without writing or sending it. Views:
    the email at desktop and mobile widths with a dark-background check, the
    plain-text part, the HTML source, the headers, and the ranked stories with
    their scores and merged articles. Saving a template or config.toml rebuilds
    the draft and reloads the page; a template error shows on the page.

    \b
    Example:
        digest ingest && digest preview --port 8025
    """
    config = app.config  # a config broken at start fails here, with a one-line error
    server = start_preview(config.base_dir / app.config_path.name, host=host, port=port)
    app.echo(f"Preview of the draft at {server.url} (Ctrl-C to stop)")
    if open_browser:
        webbrowser.open(server.url)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop the same way under systemd or `kill`
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        app.echo("Stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.watcher.stop()
        server.server_close()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
