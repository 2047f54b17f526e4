"""Errors the user can act on.

`UserError` carries a one-line message that the CLI prints on stderr and pages show with
`st.error`; anything else is a bug and surfaces as such. It does not log or format tracebacks.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with input, settings or missing files that the user can fix.

    Example: ``raise UserError("NLPLAB_DEVICE must be auto|cpu|cuda|mps, got 'gpu'")``
    """


class ModelNotFoundError(UserError):
    """A configured model id or path cannot be resolved or loaded."""
