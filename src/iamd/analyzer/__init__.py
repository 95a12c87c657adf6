"""Pure analysis behind IAM Access Analyzer: data in, findings out (no I/O, no clock)."""
