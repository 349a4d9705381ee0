"""Domain errors: each carries a message a person can act on and a stable code for the API."""


class DomainError(Exception):
    """Base of every error a service raises on purpose; never a bug."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(DomainError):
    """A value given by a person or a file cannot be used as it is."""

    code = "invalid_input"


class InvalidAddress(InvalidInput):
    """An e-mail address that is not usable."""

    code = "invalid_address"


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Refused(DomainError):
    """The request is understood but goes against a rule of the product (consent, suppression...)."""

    code = "refused"
    status = 409
