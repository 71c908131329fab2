"""Errors a user can cause in platform commands; the CLI prints them as one line."""


class MlopsError(Exception):
    """A problem the user can fix (bad argument, missing model, refused promotion)."""
