"""User-facing errors. The CLI prints their message (no traceback) and exits with status 2."""


class AksarError(Exception):
    """An error caused by the user's input or environment, with a message that says what to do.

    The message must name the offending file, line or config key.
    """


class ReadTimeout(AksarError):
    """Reading pages went past its deadline (``Reader.read_page(deadline=...)``); the work was stopped."""
