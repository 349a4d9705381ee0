"""VERP return paths: "bounces+TOKEN@domain", so a bounce names the delivery even when its text does not."""

import re

from ...errors import InvalidInput

DEFAULT_LOCAL = "bounces"
SEPARATOR = "+"  # the sub-address separator Postfix, Exim, qmail ("-" there, configurable) and Gmail accept
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
_TOKEN = re.compile(r"[A-Za-z0-9._=-]+")  # dot-atom characters (RFC 5322 3.2.3) that need no quoting
_LOCAL = re.compile(r"[A-Za-z0-9._-]+")


def verp_address(token: str, local: str, domain: str) -> str:
    """The return path carrying `token`: "local+token@domain"; raises InvalidInput if it cannot be one."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidInput("A VERP token may hold only letters, digits and . _ = -")
    if token.startswith(".") or token.endswith(".") or ".." in token:
        raise InvalidInput("A VERP token cannot start or end with a dot or hold two dots in a row.")
    if not isinstance(local, str) or not _LOCAL.fullmatch(local):
        raise InvalidInput("The bounce mailbox name may hold only letters, digits and . _ -")
    if not isinstance(domain, str) or not domain.strip() or "@" in domain or not domain.isascii():
        raise InvalidInput("The bounce domain must be an ASCII host name.")
    local_part = f"{local}{SEPARATOR}{token}"
    if len(local_part) > MAX_LOCAL_PART:
        raise InvalidInput(
            f"A return path's local part has at most {MAX_LOCAL_PART} characters (RFC 5321); "
            "use a shorter VERP token."
        )
    return f"{local_part}@{domain.strip().lower()}"


def verp_return_path(bounce_address: str, token: str) -> str:
    """BOUNCE_ADDRESS ("bounces@domain") with the token added: "bounces+token@domain"."""
    local, _, domain = bounce_address.rpartition("@")
    return verp_address(token, local, domain)


def verp_token(address: str, local: str) -> str | None:
    """The token in a VERP return path made by verp_address, or None if `address` is not one."""
    if not isinstance(address, str) or not isinstance(local, str) or not local:
        return None
    value = address.strip().strip("<>").strip()
    local_part, at, _domain = value.rpartition("@")
    if not at:
        return None
    prefix = f"{local}{SEPARATOR}"
    # Local parts are case-sensitive in theory (RFC 5321 2.4) but some relays fold them; match the
    # fixed mailbox name case-insensitively and hand the token back exactly as received.
    if not local_part.lower().startswith(prefix.lower()):
        return None
    token = local_part[len(prefix):]
    return token if token and _TOKEN.fullmatch(token) else None
