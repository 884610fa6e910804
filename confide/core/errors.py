"""Exceptions shared by every package."""


class ConfideError(Exception):
    """Base class for errors the application raises on purpose."""


class NoPracticeContext(ConfideError):
    """A tenant-owned table was queried with no practice in context.

    Returning every practice's rows would be the silent failure; raising is the loud one."""


class NotFound(ConfideError):
    """Missing, or belonging to another practice: the two are indistinguishable on purpose."""


class Forbidden(ConfideError):
    """The actor is in the right practice but their role lacks the permission."""


class InvalidInput(ConfideError):
    """Input rejected by a service with a message fit to show the user."""


class NothingChanged(InvalidInput):
    """A change that would leave everything as it was: refused, and nothing is written (not
    even an audit entry). A view shows it as a message, not as an error of the input."""
