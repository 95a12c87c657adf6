"""iamd: AWS Identity and Access Management that anyone can run."""

__version__ = "0.1.0"
