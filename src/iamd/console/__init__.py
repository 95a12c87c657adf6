"""The web console (``/console``): the IAM console in the browser. See :mod:`iamd.console.app`
and, to add pages, :mod:`iamd.console.kit`."""

from iamd.console.app import PREFIX, console_mount

__all__ = ["PREFIX", "console_mount"]
