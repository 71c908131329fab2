"""Errors a user can cause in the steps; each names the file, column or value at fault."""


class TaxiFareError(Exception):
    """Base class: the step CLIs print it as one line and exit non-zero."""
