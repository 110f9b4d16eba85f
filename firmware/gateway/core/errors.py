"""Errors shared by the core: a bad field in user input."""


class ValidationError(ValueError):
    """Input rejected; ``field`` names the offending key (HTTP 400 with {"error", "field"}).

    ``code`` (e.g. "range") and ``params`` (e.g. {"min": 1, "max": 247}) let the page say it in
    the reader's language with the field's label: HTTP 400 {"error", "field", "code", "params"}.
    The codes the page knows are the "err.<code>" keys of firmware/www/lang-en.json."""

    def __init__(self, field, message, code=None, params=None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.params = params
