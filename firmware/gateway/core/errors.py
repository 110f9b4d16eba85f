"""Errors shared by the core: a bad field in user input."""


class ValidationError(ValueError):
    """Input rejected; ``field`` names the offending key (HTTP 400 with {"error", "field"})."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message
