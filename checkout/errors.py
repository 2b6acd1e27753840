"""Errors that services raise and views turn into answers."""


class ValidationError(ValueError):
    """A value a form, the CLI or the API supplied is not acceptable."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message
