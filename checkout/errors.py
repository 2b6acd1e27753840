"""Errors that services raise and views turn into answers.

Each names what went wrong and carries a message for the person who made the request;
none knows about HTTP. `checkout.web` maps them to status codes, in one place.
"""


class DomainError(Exception):
    """A request the rules refuse; `message` says why, `param` which field (if one does)."""

    param: str | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationError(DomainError):
    """A value a form, the CLI or the API supplied is not acceptable."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.param = field
