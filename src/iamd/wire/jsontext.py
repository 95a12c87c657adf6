"""The wire's JSON text reading: :mod:`iamd.jsontext`, under its former name."""

from iamd.jsontext import MAX_DEPTH, JsonTextError, find_surrogate, loads, scrub

__all__ = ["MAX_DEPTH", "JsonTextError", "find_surrogate", "loads", "scrub"]
