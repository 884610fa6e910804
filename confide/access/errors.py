"""Refusals of the chart door. Each carries a short `code` (also written, as the reason, into
the `access:denied` audit entry) and a message naming ids and kinds only, never PHI."""

from confide.core.errors import Forbidden


class AccessRefused(Forbidden):
    """The door refused to open. A Forbidden, so a view that lets it escape answers 403.

    A missing patient, or another practice's, is `confide.core.errors.NotFound` instead: the
    two must be indistinguishable."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
