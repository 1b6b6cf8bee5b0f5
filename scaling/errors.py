"""Errors that reach a user as one line.

Every error that bad input can cause is a :class:`ScalingError` (or a subclass) whose
message names the argument, row or column at fault. The CLI prints ``scaling: error: <message>``
and exits with status 2; it never shows a traceback for these.
"""


class ScalingError(ValueError):
    """Bad input or an impossible request; the message is a complete one-line explanation."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class WriteError(ScalingError, OSError):
    """A file could not be written (read-only folder, disk full): one line naming the target path.
    Also an OSError, so code that handles failed writes as OSErrors still does."""


class OutOfRangeWarning(UserWarning):
    """A query far outside the compute range a law was fitted on."""
