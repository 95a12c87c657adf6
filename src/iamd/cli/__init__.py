"""The ``iamd`` command line: a thin layer over the library."""
