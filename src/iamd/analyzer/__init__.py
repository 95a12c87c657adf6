"""Policy analysis: pure, like ``iamd.authz`` (data in, findings out)."""
