"""The ``hotspot`` command line: thin commands that build settings, call one library
function and render its result."""

from hotspot.cli.main import app

__all__ = ["app"]
