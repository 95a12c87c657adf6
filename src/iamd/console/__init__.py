"""The web console (``/console``): sign-in with password and MFA, and the "My security
credentials" page. See :mod:`iamd.console.app`."""

from iamd.console.app import PREFIX, console_mount

__all__ = ["PREFIX", "console_mount"]
