"""`digest preview`: a local web server showing the current draft and the archive.

`DraftWatcher` (draft.py) builds the draft in memory and rebuilds it when a
template or config.toml changes; `PreviewServer` (server.py) serves it on
loopback with the views an editor needs (the email at desktop and mobile
widths, text part, HTML source, headers, structured stories) and the built
issues under the output folder. Nothing here writes to the archive or the store.
"""

from __future__ import annotations

from .draft import BuildProblem, DraftWatcher, Snapshot
from .server import PreviewServer, start_preview

__all__ = ["BuildProblem", "DraftWatcher", "PreviewServer", "Snapshot", "start_preview"]
