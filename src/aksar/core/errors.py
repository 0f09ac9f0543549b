"""User-facing errors. The CLI prints their message (no traceback) and exits with status 2."""


class AksarError(Exception):
    """An error caused by the user's input or environment, with a message that says what to do.

    The message must name the offending file, line or config key.
    """
