"""Status codes in a server's words: RFC 3463 enhanced codes ("5.1.1") and RFC 5321 basic reply codes ("550")."""

from ..reasons import find_enhanced_status, find_reply_code

__all__ = ["best_status", "find_enhanced_status", "find_reply_code", "status_from_basic_code"]


def status_from_basic_code(text: str | None) -> str | None:
    """An RFC 3463 class-only code ("5.0.0") from a basic SMTP reply code such as "550", or None."""
    code = find_reply_code(text)
    return f"{code[0]}.0.0" if code else None


def best_status(field: str | None, diagnostic: str | None) -> str | None:
    """The most specific status: the Status field, refined by the diagnostic when the field says X.0.0."""
    declared = find_enhanced_status(field)
    detailed = find_enhanced_status(diagnostic)
    if declared is None:
        return detailed or status_from_basic_code(diagnostic)
    # Exim and others report "Status: 5.0.0" while quoting the remote's "550 5.1.1" in the diagnostic.
    if declared.endswith(".0.0") and detailed and detailed[0] == declared[0]:
        return detailed
    return declared
